"""The pure deconfliction engine: geometry on the ellipsoid, separation rules, detection.

Nothing in this package does I/O or reads a clock: given volumes, it answers.
"""

from tansiq.engine.conflict import Conflict
from tansiq.engine.detect import detect
from tansiq.engine.index import ConflictIndex
from tansiq.engine.rules import SeparationTable

__all__ = ["Conflict", "ConflictIndex", "SeparationTable", "detect"]
