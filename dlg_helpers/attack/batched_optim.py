"""Optimisers for many independent problems at once: each row of a (K, n) tensor is one
problem's variables, with its own optimiser state, step and stopping.

:class:`BatchedLBFGS` takes the steps ``torch.optim.LBFGS`` takes (without a line search), with
the same defaults and the same rules for when a step ends early, for every row separately; its
two-loop recursion is written as two small triangular solves per row (the compact form of
Byrd, Nocedal and Schnabel 1994), so that its cost does not grow with the number of rows in
Python. :class:`BatchedAdam` is ``torch.optim.Adam``'s update, row by row. Rows differ from a
run of the torch optimiser on that row alone only by rounding.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["Evaluate", "BatchedLBFGS", "BatchedAdam"]


Evaluate = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
"""``evaluate(rows, points)``: the objective at ``points`` (shape (len(rows), n)) for problems
``rows``, as (values of shape (len(rows),), gradients of shape (len(rows), n))."""


class BatchedLBFGS:
    """L-BFGS for ``count`` problems of ``dim`` variables, each with its own history.

    Args:
        count, dim: how many problems, and how many variables each has.
        lr, max_iter, history_size: as ``torch.optim.LBFGS`` (``max_eval`` is its default,
            ``max_iter * 5 // 4``); the tolerances are torch's defaults too.
        device: where the state lives.
    """

    def __init__(self, count: int, dim: int, *, lr: float = 1.0, max_iter: int = 20,
                 history_size: int = 100, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, device: torch.device | str = "cpu") -> None:
        self.lr, self.max_iter, self.history_size = lr, max_iter, history_size
        self.max_eval = max_iter * 5 // 4
        self.tolerance_grad, self.tolerance_change = tolerance_grad, tolerance_change
        m = history_size
        zeros = dict(device=device, dtype=torch.float32)
        self.n_iter = torch.zeros(count, dtype=torch.long, device=device)
        self.direction = torch.zeros(count, dim, **zeros)
        self.step_size = torch.zeros(count, **zeros)
        self.prev_grad = torch.zeros(count, dim, **zeros)
        self.prev_loss = torch.zeros(count, **zeros)
        self.h_diag = torch.ones(count, **zeros)
        # The history is a ring of ``m`` slots per problem: pairs (s, y), 1 / (y . s), and the
        # products s_i . y_j of every two slots, kept up to date as pairs arrive.
        self.steps_s = torch.zeros(count, m, dim, **zeros)
        self.steps_y = torch.zeros(count, m, dim, **zeros)
        self.rho = torch.zeros(count, m, **zeros)
        self.s_dot_y = torch.zeros(count, m, m, **zeros)
        # s_i . g and y_i . d at the last direction computed, so that the next pair's products
        # come without another pass over the history: s_new . y_i = t (y_i . d) and
        # s_i . y_new = s_i . g_new - s_i . g.
        self.s_dot_grad = torch.zeros(count, m, **zeros)
        self.y_dot_dir = torch.zeros(count, m, **zeros)
        self.stored = torch.zeros(count, dtype=torch.long, device=device)
        self.oldest = torch.zeros(count, dtype=torch.long, device=device)

    def reset(self, rows: torch.Tensor) -> None:
        """Start problems ``rows`` afresh (a new random start): their next iteration is a
        first one."""
        self.n_iter[rows] = 0
        self._forget(rows)

    def _forget(self, rows: torch.Tensor) -> None:
        # Empty slots hold zeros, so they add nothing to the recursion and need no mask.
        self.stored[rows] = 0
        self.oldest[rows] = 0
        self.h_diag[rows] = 1.0
        for history in (self.steps_s, self.steps_y, self.rho, self.s_dot_y, self.s_dot_grad,
                        self.y_dot_dir):
            history[rows] = 0.0

    def state_of(self, row: int) -> dict[str, torch.Tensor]:
        """Problem ``row``'s history in order, oldest first (for tests and inspection)."""
        order = (self.oldest[row] + torch.arange(int(self.stored[row]))) % self.history_size
        return {"s": self.steps_s[row, order], "y": self.steps_y[row, order],
                "rho": self.rho[row, order], "h_diag": self.h_diag[row]}

    def _spread(self, rows: torch.Tensor, vectors: torch.Tensor) -> torch.Tensor:
        """``vectors`` of problems ``rows`` placed in a (count, dim) tensor of zeros."""
        full = torch.zeros(self.steps_s.shape[0], vectors.shape[1], device=vectors.device)
        full[rows] = vectors
        return full

    def _few(self, rows: torch.Tensor) -> bool:
        # The history is large (count x history x dim) and reading it is what costs. Multiplying
        # all of it by vectors that are zero for the other problems reads it once; copying out
        # the rows' share first reads and writes that share, then reads it again, which is
        # cheaper only when the rows are at most a third of the problems (late in a batch,
        # when most attacks have finished).
        return 3 * len(rows) <= self.steps_s.shape[0]

    def _times(self, history: torch.Tensor, rows: torch.Tensor,
               vectors: torch.Tensor) -> torch.Tensor:
        """Each row's history slots dotted with its vector: shape (len(rows), history)."""
        # Written as a row vector times the history's transpose rather than the history times a
        # column: the same products, but torch's CPU bmm runs this shape at the speed of reading
        # the history and the other about seven times slower (K = 32, LeNet's 3,172 unknowns).
        if self._few(rows):
            return torch.bmm(vectors.unsqueeze(1), history[rows].transpose(1, 2)).squeeze(1)
        spread = self._spread(rows, vectors).unsqueeze(1)
        return torch.bmm(spread, history.transpose(1, 2)).squeeze(1)[rows]

    def _combine(self, history: torch.Tensor, rows: torch.Tensor,
                 weights: torch.Tensor) -> torch.Tensor:
        """Each row's history slots summed with weights (shape (len(rows), history))."""
        if self._few(rows):
            return torch.bmm(weights.unsqueeze(1), history[rows]).squeeze(1)
        full = torch.zeros(history.shape[0], history.shape[1], device=weights.device)
        full[rows] = weights
        return torch.bmm(full.unsqueeze(1), history).squeeze(1)[rows]

    def _remember(self, rows: torch.Tensor, s: torch.Tensor, y: torch.Tensor, ys: torch.Tensor,
                  new_row: torch.Tensor, new_column: torch.Tensor) -> torch.Tensor:
        """Add the pair (s, y) to each row's history, dropping the oldest pair when it is full,
        with its products s . y_j (``new_row``) and s_j . y (``new_column``) with every slot.

        Returns:
            The slot each row's new pair went into.
        """
        m = self.history_size
        full = self.stored[rows] == m
        slot = torch.where(full, self.oldest[rows], (self.oldest[rows] + self.stored[rows]) % m)
        self.oldest[rows] = torch.where(full, (self.oldest[rows] + 1) % m, self.oldest[rows])
        self.stored[rows] = torch.clamp(self.stored[rows] + 1, max=m)
        self.steps_s[rows, slot] = s
        self.steps_y[rows, slot] = y
        self.rho[rows, slot] = 1.0 / ys
        self.h_diag[rows] = ys / (y * y).sum(1)
        products = self.s_dot_y[rows]
        index = torch.arange(len(rows), device=rows.device)
        products[index, slot, :] = new_row
        products[index, :, slot] = new_column
        products[index, slot, slot] = ys
        self.s_dot_y[rows] = products
        return slot

    def _direction(self, rows: torch.Tensor, grad: torch.Tensor, s_dot_grad: torch.Tensor
                   ) -> torch.Tensor:
        """The two-loop recursion's -H g for each row, from its history, as two triangular
        solves: the first loop's coefficients solve (I + diag(rho) U) a = diag(rho) S q with U
        the later pairs' products s_i . y_j, the second's (I + diag(rho) L) c = a - diag(rho) Y r
        with L the earlier pairs' y_i . s_j. Only the small (history x history) matrices are
        put in order, oldest pair first; the history itself stays in its ring, and is read
        four times: S g (given, ``s_dot_grad``), Y^T a, Y r and S^T c."""
        m = self.history_size
        order = (self.oldest[rows, None] + torch.arange(m, device=grad.device)) % m
        rho = torch.gather(self.rho[rows], 1, order)
        products = torch.gather(self.s_dot_y[rows], 1, order[..., None].expand(-1, -1, m))
        products = torch.gather(products, 2, order[:, None, :].expand(-1, m, -1))
        eye = torch.eye(m, device=grad.device)

        def in_ring(weights: torch.Tensor) -> torch.Tensor:
            return torch.zeros_like(weights).scatter_(1, order, weights)

        q = -grad
        s_q = -torch.gather(s_dot_grad, 1, order)
        upper = eye + rho[..., None] * torch.triu(products, 1)
        alpha = torch.linalg.solve_triangular(upper, (rho * s_q)[..., None], upper=True)
        alpha = alpha.squeeze(2)
        r = self.h_diag[rows, None] * (q - self._combine(self.steps_y, rows, in_ring(alpha)))
        y_r = torch.gather(self._times(self.steps_y, rows, r), 1, order)
        lower = eye + rho[..., None] * torch.tril(products.transpose(1, 2), -1)
        coefficient = torch.linalg.solve_triangular(lower, (alpha - rho * y_r)[..., None],
                                                    upper=False).squeeze(2)
        self.s_dot_grad[rows] = s_dot_grad
        y_dot_dir = y_r + torch.bmm(coefficient[:, None, :], products).squeeze(1)
        self.y_dot_dir[rows] = in_ring(y_dot_dir)
        return r + self._combine(self.steps_s, rows, in_ring(coefficient))

    def step(self, rows: torch.Tensor, points: torch.Tensor, evaluate: Evaluate) -> torch.Tensor:
        """One ``torch.optim.LBFGS.step`` for each of problems ``rows``, moving their rows of
        ``points`` (shape (count, dim)) in place.

        Returns:
            Each problem's objective at its point before the step (what torch's ``step``
            returns).
        """
        # Each test below is the negation of one of torch's tests for breaking off (``not
        # (a <= b)`` rather than ``a > b``), so that a NaN carries on as it does in torch.
        loss, grad = evaluate(rows, points[rows])
        first_loss = loss
        going = ~(grad.abs().amax(1) <= self.tolerance_grad)
        active, loss, grad = rows[going], loss[going], grad[going]
        evaluations = 1
        for n_iter in range(1, self.max_iter + 1):
            if not len(active):
                break
            self.n_iter[active] += 1
            first = self.n_iter[active] == 1
            direction = -grad
            later = active[~first]
            if len(later):
                g = grad[~first]
                y = g - self.prev_grad[later]
                s = self.direction[later] * self.step_size[later, None]
                ys = (y * s).sum(1)
                s_dot_grad = self._times(self.steps_s, later, g)
                curved = ys > 1e-10
                if curved.any():
                    kept = later[curved]
                    slot = self._remember(
                        kept, s[curved], y[curved], ys[curved],
                        new_row=self.step_size[kept, None] * self.y_dot_dir[kept],
                        new_column=s_dot_grad[curved] - self.s_dot_grad[kept])
                    s_dot_grad[curved.nonzero().squeeze(1), slot] = (s[curved] * g[curved]).sum(1)
                direction[~first] = self._direction(later, g, s_dot_grad)
            self._forget(active[first])  # a first iteration starts an empty history (H = I)
            self.prev_grad[active] = grad
            self.prev_loss[active] = loss
            step_size = torch.full_like(loss, self.lr)
            step_size[first] = torch.clamp(1.0 / grad[first].abs().sum(1), max=1.0) * self.lr
            self.direction[active] = direction
            self.step_size[active] = step_size
            descending = ~((grad * direction).sum(1) > -self.tolerance_change)
            active, direction, step_size = (active[descending], direction[descending],
                                            step_size[descending])
            if not len(active):
                break
            points[active] += step_size[:, None] * direction
            if n_iter == self.max_iter:
                break
            previous = self.prev_loss[active]
            loss, grad = evaluate(active, points[active])
            evaluations += 1
            if evaluations >= self.max_eval:
                break
            going = (~(grad.abs().amax(1) <= self.tolerance_grad)
                     & ~((step_size[:, None] * direction).abs().amax(1) <= self.tolerance_change)
                     & ~((loss - previous).abs() < self.tolerance_change))
            active, loss, grad = active[going], loss[going], grad[going]
        return first_loss


class BatchedAdam:
    """``torch.optim.Adam`` (betas 0.9 and 0.999, eps 1e-8) for ``count`` problems of ``dim``
    variables, each with its own moments, step count and learning rate."""

    def __init__(self, count: int, dim: int, *, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, device: torch.device | str = "cpu") -> None:
        self.betas, self.eps = betas, eps
        self.mean = torch.zeros(count, dim, device=device)
        self.square = torch.zeros(count, dim, device=device)
        self.steps = torch.zeros(count, device=device)

    def reset(self, rows: torch.Tensor) -> None:
        """Forget the moments of problems ``rows`` (a new random start)."""
        self.mean[rows] = 0.0
        self.square[rows] = 0.0
        self.steps[rows] = 0.0

    def step(self, rows: torch.Tensor, points: torch.Tensor, grad: torch.Tensor,
             lr: torch.Tensor) -> None:
        """Move problems ``rows`` of ``points`` by one Adam step on ``grad`` with step sizes
        ``lr`` (one per row)."""
        beta1, beta2 = self.betas
        self.steps[rows] += 1
        mean = torch.lerp(self.mean[rows], grad, 1 - beta1)
        square = self.square[rows] * beta2 + (1 - beta2) * grad * grad
        self.mean[rows], self.square[rows] = mean, square
        steps = self.steps[rows, None]
        size = lr[:, None] / (1 - beta1 ** steps)
        denominator = square.sqrt() / (1 - beta2 ** steps).sqrt() + self.eps
        points[rows] -= size * mean / denominator
