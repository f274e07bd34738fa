"""The backends' environments: one facade over four modules.

* ``pins``: names (``BACKEND`` or ``BACKEND@VERSION``), pinned versions and the pins' text;
* ``interpreters``: the base Python a venv is built on, a user's own interpreter
  (``--python``, ``POOLING_XFW_PYTHON_<BACKEND>``) and the probe of what an interpreter holds;
* ``venvs``: where the venvs live, keyed by their pins; building and locking them;
* ``inventory``: every venv in the root, listed and pruned.

Callers write ``envs.<name>``; a test that replaces a module-level value does it in the module
that owns it (``pins.REQUIREMENTS_DIR``, ``venvs._build``).
"""
from __future__ import annotations

from .pins import (LARGE_VARIABLE, NAME_FORM, PROJECT_ROOT, REQUIREMENTS_DIR, VERSION_PATTERN,
                   VERSIONS_TABLE, allowed_names, canonical, check_backend, companion_pins,
                   framework_of, label, large_build, name_problem, normalized_version, package_of,
                   pinned_version, pins_text, public_version, requirements, split_machine,
                   split_name)
from .interpreters import (EnvStatus, MIN_NUMPY, MIN_PYTHON, RUNNING_PYTHON, base_python,
                           base_python_missing, base_python_version, fix_command,
                           forget_interpreters, how_chosen, probe, python_version_of, quiet_env,
                           set_interpreter, user_interpreter, worker_env, wrong_version)
from .venvs import (PINS_FILE, STAMP, acquire_lock, all_venv_dirs, backend_of_dir, cache_root,
                    check_root, create, create_one, current_dir, env_dir, env_name, envs_root,
                    fingerprint, fingerprint_of, holding_lock, inspect, interpreter, is_current,
                    lock_file, lock_holder, not_on_index, read_stamp, reexec_under,
                    unavailable_reason)
from .inventory import (Venv, environments, prune)

__all__ = ['acquire_lock', 'all_venv_dirs', 'allowed_names', 'backend_of_dir', 'base_python',
           'base_python_missing', 'base_python_version', 'cache_root', 'canonical',
           'check_backend', 'check_root', 'companion_pins', 'create', 'create_one',
           'current_dir', 'env_dir', 'env_name', 'environments', 'envs_root', 'EnvStatus',
           'fingerprint', 'fingerprint_of', 'fix_command', 'forget_interpreters',
           'framework_of', 'holding_lock', 'how_chosen', 'inspect', 'interpreter', 'is_current',
           'label', 'large_build', 'LARGE_VARIABLE', 'lock_file', 'lock_holder', 'MIN_NUMPY',
           'MIN_PYTHON', 'NAME_FORM', 'name_problem', 'normalized_version', 'not_on_index',
           'package_of', 'pinned_version', 'PINS_FILE', 'pins_text', 'probe', 'PROJECT_ROOT',
           'prune', 'public_version', 'python_version_of', 'quiet_env', 'read_stamp',
           'reexec_under', 'requirements', 'REQUIREMENTS_DIR', 'RUNNING_PYTHON',
           'set_interpreter', 'split_machine', 'split_name', 'STAMP', 'unavailable_reason',
           'user_interpreter', 'Venv', 'VERSION_PATTERN', 'VERSIONS_TABLE', 'worker_env',
           'wrong_version']
