import flash
from flash import Trainer

trainer = flash.Trainer(max_epochs=1, gpus=1, precision=16)
other = Trainer(max_epochs=1)
