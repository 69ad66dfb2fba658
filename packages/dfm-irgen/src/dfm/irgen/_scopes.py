"""The scope rules: which value may be used where.

* An operation's value can be used in the block it is built in and in the blocks nested
  in it — not after the block, and not in a sibling block.
* A ForEach's element (``with ForEach(...) as item``) exists only inside its body.
* A TryFromCache's result (``as cached``) exists only after its block (in the block's own
  scope and the blocks nested there), not inside its body.
"""

from __future__ import annotations

from ._nodes import CacheNode, ForEachNode, IfNode, OpNode, Scope


def visible_in(producer: OpNode | ForEachNode | CacheNode, user: Scope) -> bool:
    """Whether ``producer``'s value may be used from scope ``user``."""
    if isinstance(producer, ForEachNode):
        return user.within(producer.body)
    if isinstance(producer, CacheNode):
        return user.within(producer.scope) and not user.within(producer.body)
    return user.within(producer.scope)


def check_reference(
    producer: OpNode | ForEachNode | IfNode | CacheNode, user: Scope, who: str, how: str
) -> None:
    """Raise if ``who`` (in scope ``user``) may not use ``producer``'s value.

    Raises:
        ValueError: naming both nodes, the block in the way, and the fix.
    """
    assert not isinstance(producer, IfNode)  # refused earlier: an If has no value
    if visible_in(producer, user):
        return
    if isinstance(producer, ForEachNode):
        raise ValueError(
            f"{who} {how} the element of {producer.describe()} outside its block; the "
            "element exists only inside `with ForEach(...) as item:`: move the use into "
            "the block (a Yield there delivers one result per element)"
        )
    if isinstance(producer, CacheNode) and user.within(producer.body):
        raise ValueError(
            f"{who} {how} the result of {producer.describe()} inside its own block; it has "
            "a value only after the block (inside it, use the value you pass to .cache())"
        )
    # The outermost block around the producer that does not contain the user.
    block = [s for s in producer.scope.chain() if not user.within(s)][-1]
    what = producer.describe()
    relation = "after its block" if user is block.parent else "from a sibling block"
    raise ValueError(
        f"{who} {how} {what}, which is built inside the {block.label} block, {relation}; a "
        "value built in a block can only be used inside that block: move the use into "
        f"the {block.label} block, or build {what} outside it"
    )
