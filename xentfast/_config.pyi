# Types of xentfast._config (re-exported by xentfast).
from typing import Any

import numpy as np

__version__: str

def set_num_threads(n: int | np.integer[Any]) -> None: ...
def get_num_threads() -> int: ...
def show_config(print_out: bool = True) -> dict[str, Any]: ...
