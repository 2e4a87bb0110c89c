from pytorch_lightning.lite import LightningLite


class Trainer(LightningLite):
    def run(self, model):
        return self.setup(model)


class DeepTrainer(Trainer):
    pass
