"""The second reference of `make bench`'s cold starts: an empty ``restate.app`` that defines one pydantic model.

Every pattern that takes input defines pydantic models, and the first one costs a cold start far more
than the next: it imports pydantic's field machinery (``pydantic.fields``, ``pydantic.types``,
``annotated_types``) and its plugin loader (``importlib.metadata``), none of which the SDK imports on
its own. This app pays exactly that, so a pattern's cold start divided by this one's is what the
pattern's own code adds.
"""

from __future__ import annotations

import restate
from pydantic import BaseModel


class Greeting(BaseModel):
    name: str


app = restate.app(services=[])
