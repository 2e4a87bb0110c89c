import lightning as L


class FitTrainer(L.Trainer):
    """A project Trainer subclass; calls to it are settings like L.Trainer's."""


class ResumingTrainer(FitTrainer):
    pass
