"""Split a piece's forward pass and its vector-Jacobian product into two programs that share
the forward's activations, as autograd would, instead of a VJP program that recomputes the
forward.

The joint graph (forward, then autograd.grad with the cotangents as inputs) is traced with
make_fx and cut in two by torch's own partitioner, the one torch.compile uses for training
graphs (AOTAutograd's min-cut rematerialisation: it saves what is costly to recompute and
recomputes what is cheap, such as elementwise ops). The forward program returns the piece's
outputs followed by the saved tensors ("residuals"); the VJP program takes the residuals
followed by the cotangents. A size the backward needs (a SymInt in the partition) travels as
an empty (n, 0) tensor, so that both programs take and return tensors only, which is what an
AOTInductor program and the plugin handle.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def _is_size(value) -> bool:
    return isinstance(value, (int, torch.SymInt))


class ForwardWithResiduals(torch.nn.Module):
    """primals -> (outputs..., residuals...), sizes among the residuals as (n, 0) tensors."""

    def __init__(self, graph: torch.fx.GraphModule, size_positions: Sequence[int]):
        super().__init__()
        self.graph = graph
        self.size_positions = tuple(size_positions)

    def forward(self, *primals):
        values = list(self.graph(*primals))
        for k in self.size_positions:
            values[k] = primals[0].new_empty((values[k], 0))
        return tuple(values)


class BackwardFromResiduals(torch.nn.Module):
    """(residuals..., cotangents...) -> the gradients, in the joint graph's order."""

    def __init__(self, graph: torch.fx.GraphModule, order: Sequence[int], sizes: Sequence[int]):
        super().__init__()
        self.graph = graph
        self.order = tuple(order)  # for each input of the graph: its position in our inputs
        self.sizes = frozenset(sizes)  # those positions that hold an (n, 0) size tensor

    def forward(self, *values):
        args = [values[k].shape[0] if k in self.sizes else values[k] for k in self.order]
        return tuple(self.graph(*args))


def _flat(module: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> torch.fx.GraphModule:
    """`module` retraced into one graph with one input per tensor, as torch.export and
    AOTInductor want it (the partition's constants then sit on the graph itself)."""
    from torch.fx.experimental.proxy_tensor import make_fx

    return make_fx(module, tracing_mode="symbolic", _allow_non_fake_inputs=True)(*inputs)


class SplitVJP:
    """The two programs of one piece, with what their export needs.

    `joint(primals, cotangents)` returns the piece's outputs followed by the gradients;
    `outputs` is how many of its results are outputs. `primal_dims` are the dynamic shapes
    of the primals (torch.export's form)."""

    def __init__(
        self,
        joint: Callable,
        primals: Sequence[torch.Tensor],
        cotangents: Sequence[torch.Tensor],
        outputs: int,
        primal_dims: Sequence[dict],
        cotangent_dims: Sequence[dict],
    ):
        from torch._functorch.partitioners import min_cut_rematerialization_partition
        from torch.fx.experimental.proxy_tensor import make_fx

        def traced(primals, tangents):  # the partitioner knows its inputs by these names
            return joint(primals, tangents)

        # In-place ops rewritten, as the partitioner needs; views kept as views: their
        # functional copies (slice_copy, ...) have no AOTInductor kernel and would run as
        # eager copies every step.
        def functional(primals, tangents):
            return torch.func.functionalize(graph, remove="mutations")(primals, tangents)

        with torch.enable_grad():
            graph = make_fx(traced, tracing_mode="symbolic", _allow_non_fake_inputs=True)(
                list(primals), list(cotangents)
            )
            graph = make_fx(functional, tracing_mode="symbolic", _allow_non_fake_inputs=True)(
                list(primals), list(cotangents)
            )
        placeholders = [n for n in graph.graph.nodes if n.op == "placeholder"]
        dims_of_symbol = {}
        for node, dims in zip(placeholders, primal_dims, strict=False):
            for axis, dim in dims.items():
                size = node.meta["val"].shape[axis]
                if isinstance(size, torch.SymInt) and size.node.expr.is_Symbol:
                    dims_of_symbol[size.node.expr] = dim
        forward, backward = min_cut_rematerialization_partition(
            graph, None, num_fwd_outputs=outputs
        )
        (results,) = [n.args[0] for n in forward.graph.nodes if n.op == "output"]
        saved = list(results[outputs:])
        size_positions = [outputs + k for k, n in enumerate(saved) if _is_size(n.meta["val"])]
        self.forward = _flat(ForwardWithResiduals(forward, size_positions), primals)

        names = [n.name for n in saved]
        order, tangents = [], 0
        for node in (n for n in backward.graph.nodes if n.op == "placeholder"):
            if node.name.startswith("tangents"):
                order.append(len(saved) + tangents)
                tangents += 1
            else:
                order.append(names.index(node.name))
        sizes = [k - outputs for k in size_positions]
        with torch.no_grad():
            residuals = self.forward(*primals)[outputs:]
        self.backward_inputs = (*residuals, *cotangents)
        self.backward = _flat(BackwardFromResiduals(backward, order, sizes), self.backward_inputs)
        residual_dims = [
            self._dims(n.meta["val"], dims_of_symbol, k in sizes) for k, n in enumerate(saved)
        ]
        self.backward_dims = (*residual_dims, *cotangent_dims)

    @staticmethod
    def _dims(value, dims_of_symbol: dict, is_size: bool) -> dict:
        """The dynamic shape of one residual: a primal's Dim where its size is one of the
        primals' sizes or a multiple of one plus a constant (torch.export's derived Dim),
        torch.export's automatic choice otherwise (a sum of two sizes, say)."""
        import sympy
        from torch.export import Dim

        shape = [value] if is_size else list(value.shape)
        dims = {}
        for axis, size in enumerate(shape):
            if not isinstance(size, torch.SymInt):
                continue
            expr = size.node.expr
            dims[axis] = Dim.AUTO
            if len(expr.free_symbols) == 1 and next(iter(expr.free_symbols)) in dims_of_symbol:
                symbol = next(iter(expr.free_symbols))
                poly = sympy.Poly(expr, symbol)
                if poly.degree() == 1:
                    scale, offset = (int(c) for c in poly.all_coeffs())
                    dim = dims_of_symbol[symbol]
                    dims[axis] = dim if (scale, offset) == (1, 0) else scale * dim + offset
        return dims
