"""bfloat16 copy of the model (float32's range, 7-bit mantissa)."""

import torch

from quantrack.methods._half import method

METHOD = method(torch.bfloat16, "bfloat16 copy of every parameter; inputs cast to bfloat16")
