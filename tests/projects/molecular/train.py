import lightning as L

from molpkg.model import EnergyModel

L.Trainer(accelerator="gpu", devices=1, precision="16-mixed").fit(EnergyModel())
