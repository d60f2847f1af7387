"""SessionOptions, RunOptions and the option enums, with onnxruntime's names and defaults."""

import enum

from . import _tessera


class GraphOptimizationLevel(enum.IntEnum):
    """How much the graph is rewritten at session creation (onnxruntime's members and values)."""
    ORT_DISABLE_ALL = 0
    ORT_ENABLE_BASIC = 1
    ORT_ENABLE_EXTENDED = 2
    ORT_ENABLE_LAYOUT = 3
    ORT_ENABLE_ALL = 99


class ExecutionMode(enum.IntEnum):
    """Node scheduling. Tessera runs nodes in order and parallelizes inside them: ORT_PARALLEL is accepted and
    runs like ORT_SEQUENTIAL."""
    ORT_SEQUENTIAL = 0
    ORT_PARALLEL = 1


# Tessera's level names: layout changes belong to its "all" level.
_LEVEL_NAMES = {0: "disabled", 1: "basic", 2: "extended", 3: "all", 99: "all"}


_LIMITS = ("max_tensor_bytes", "max_loop_iterations", "max_graph_depth", "max_model_bytes", "max_live_bytes")


class SessionOptions:
    """Options read when an InferenceSession is created (later changes do not affect existing sessions)."""

    def __init__(self):
        self.graph_optimization_level = GraphOptimizationLevel.ORT_ENABLE_ALL
        self.intra_op_num_threads = 0  # 0: one thread per core
        self.inter_op_num_threads = 0  # accepted; Tessera has no inter-op pool
        self.execution_mode = ExecutionMode.ORT_SEQUENTIAL
        self.enable_profiling = False
        self.profile_file_prefix = "onnxruntime_profile_"
        self.optimized_model_filepath = ""
        self.log_severity_level = -1
        self.log_verbosity_level = 0
        self.logid = ""
        self.enable_cpu_mem_arena = True
        self.enable_mem_pattern = True
        self.enable_mem_reuse = True
        self.use_deterministic_compute = False
        # Tessera's resource limits (onnxruntime has none); None keeps Tessera's default (docs/PYTHON.md).
        self.max_tensor_bytes = None
        self.max_loop_iterations = None
        self.max_graph_depth = None
        self.max_model_bytes = None
        self.max_live_bytes = None
        self._config = {}
        self._free_dimensions = {}

    def add_session_config_entry(self, key, value):
        """Stores a "session.*" config entry; Tessera reads "tessera.disabled_passes" (comma-separated pass
        names), "session.set_denormal_as_zero" ("1": flush denormal floats to zero, as onnxruntime) and
        "tessera.matmul_precision" ("bf16": float32 MatMul/Gemm with constant weights on the bfloat16 GEMM, as the
        CLI's --precision bf16; "fp32", the default), "tessera.split_batch" ("0": run every batch whole instead of
        in slices, see docs/ARCHITECTURE.md "Batch splitting"), and keeps the others for get_session_config_entry."""
        self._config[str(key)] = str(value)

    def get_session_config_entry(self, key):
        """The value stored by add_session_config_entry; InvalidArgument when there is none."""
        if key not in self._config:
            from ._errors import InvalidArgument
            raise InvalidArgument(f"session config entry '{key}' is not set")
        return self._config[key]

    def add_free_dimension_override_by_name(self, dim_name, dim_value):
        """Fixes the symbolic input dimension `dim_name` to `dim_value` before the graph is optimized."""
        self._free_dimensions[str(dim_name)] = int(dim_value)

    def add_free_dimension_override_by_denotation(self, dim_denotation, dim_value):
        """Not supported: Tessera does not read dimension denotations."""
        from ._errors import NotImplemented
        raise NotImplemented("add_free_dimension_override_by_denotation: Tessera ignores dimension denotations; "
                             "use add_free_dimension_override_by_name")

    def _native_options(self):
        """The dict NativeSession reads."""
        level = int(self.graph_optimization_level)
        if level not in _LEVEL_NAMES:
            from ._errors import InvalidArgument
            raise InvalidArgument(f"graph_optimization_level {level} is not one of GraphOptimizationLevel's values")
        options = {
            "intra_op_num_threads": int(self.intra_op_num_threads),
            "optimization_level": _LEVEL_NAMES[level],
            "free_dimension_overrides": dict(self._free_dimensions),
            "enable_profiling": bool(self.enable_profiling),
            "optimized_model_filepath": str(self.optimized_model_filepath or ""),
            "denormals_as_zero": self._config.get("session.set_denormal_as_zero") == "1",
            "memory_pattern": bool(self.enable_mem_pattern),
            "split_batch": self._config.get("tessera.split_batch") != "0",
        }
        for limit in _LIMITS:
            value = getattr(self, limit)
            if value is not None:
                if int(value) < 0:
                    from ._errors import InvalidArgument
                    raise InvalidArgument(f"{limit} must be >= 0, got {value}")
                options[limit] = int(value)
        passes = self._config.get("tessera.disabled_passes", "")
        options["disabled_passes"] = [p for p in passes.split(",") if p]
        precision = self._config.get("tessera.matmul_precision", "fp32")
        if precision not in ("fp32", "bf16"):
            from ._errors import InvalidArgument
            raise InvalidArgument(f"tessera.matmul_precision must be fp32 or bf16, got '{precision}'")
        options["matmul_precision"] = precision
        return options


class RunOptions:
    """Options for one run. Setting `terminate` to True from another thread stops runs using these options
    before their next node, with Fail. `timeout_ms` (Tessera's own; 0: none) stops a run that takes longer,
    with RuntimeException naming the node it reached."""

    def __init__(self):
        self._flag = _tessera.TerminateFlag()
        self.timeout_ms = 0
        self.log_severity_level = -1
        self.log_verbosity_level = 0
        self.logid = ""
        self.only_execute_path_to_fetches = False
        self._config = {}

    @property
    def terminate(self):
        return self._flag.get()

    @terminate.setter
    def terminate(self, value):
        self._flag.set(bool(value))

    def add_run_config_entry(self, key, value):
        """Stores a run config entry (kept for get_run_config_entry; Tessera reads none)."""
        self._config[str(key)] = str(value)

    def get_run_config_entry(self, key):
        """The value stored by add_run_config_entry; InvalidArgument when there is none."""
        if key not in self._config:
            from ._errors import InvalidArgument
            raise InvalidArgument(f"run config entry '{key}' is not set")
        return self._config[key]
