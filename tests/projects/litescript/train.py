from src.fit import ResumingTrainer
from src.trainer import DeepTrainer, Trainer

Trainer(devices=1, precision=16).run(None)
DeepTrainer(accelerator="gpu", devices=2)
ResumingTrainer(precision="bf16")
