"""float16 copy of the model (IEEE half: 10-bit mantissa, narrow range)."""

import torch

from quantrack.methods._half import method

METHOD = method(torch.float16, "float16 copy of every parameter; inputs cast to float16")
