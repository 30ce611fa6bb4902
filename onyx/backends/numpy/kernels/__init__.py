"""NumPy kernels, one module per op family; importing this package registers them all."""

import importlib
import pkgutil
import warnings

# NaN/Inf from a kernel are values the spec defines, not problems: NumPy's RuntimeWarnings from
# these modules are silenced here once (a per-call np.errstate costs more than a small add).
warnings.filterwarnings("ignore", category=RuntimeWarning,
                        module=r"onyx\.backends\.numpy\.kernels(\..*)?$")

for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
    importlib.import_module(f"{__name__}.{_info.name}")
