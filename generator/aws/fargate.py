"""Fargate task sizes: the task-level CPU/memory pairs AWS accepts, checked when options are built.

The table is AWS's "Task CPU and memory" table for Fargate (Linux):
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/fargate-tasks-services.html#fargate-tasks-size
(the same table is in the RegisterTaskDefinition `memory` reference). CPU is in CPU units
(1024 = 1 vCPU), memory in MiB.
"""

from __future__ import annotations

from generator.core.errors import UserError


def _steps(low: int, high: int, step: int) -> tuple[int, ...]:
    return tuple(range(low, high + 1, step))


# cpu units → the memory values (MiB) Fargate accepts with it.
FARGATE_MEMORY_BY_CPU: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: (1024, 2048, 3072, 4096),
    1024: _steps(2048, 8192, 1024),
    2048: _steps(4096, 16384, 1024),
    4096: _steps(8192, 30720, 1024),
    # 8 and 16 vCPU: "This option requires Linux platform 1.4.0 or later" (LATEST is 1.4.0).
    8192: _steps(16384, 61440, 4096),
    16384: _steps(32768, 122880, 8192),
}
NEEDS_PLATFORM_1_4 = frozenset({8192, 16384})


def valid_pairs() -> list[tuple[int, int]]:
    return [(cpu, memory) for cpu, memories in FARGATE_MEMORY_BY_CPU.items() for memory in memories]


def _describe(memories: tuple[int, ...]) -> str:
    if len(memories) <= 4:
        return ", ".join(map(str, memories))
    return f"{memories[0]} to {memories[-1]} in steps of {memories[1] - memories[0]}"


def validate_task_size(cpu: int, memory: int) -> None:
    """Raise UserError naming both values unless Fargate accepts this cpu/memory pair."""
    if cpu not in FARGATE_MEMORY_BY_CPU:
        raise UserError(
            f"cpu {cpu} with memory {memory} is not a Fargate task size; cpu must be one of "
            f"{', '.join(map(str, FARGATE_MEMORY_BY_CPU))} (CPU units, 1024 = 1 vCPU)",
            field="cpu",
        )
    memories = FARGATE_MEMORY_BY_CPU[cpu]
    if memory not in memories:
        raise UserError(
            f"cpu {cpu} with memory {memory} is not a Fargate task size; with cpu {cpu} memory (MiB) "
            f"must be {_describe(memories)}",
            field="memory",
        )
