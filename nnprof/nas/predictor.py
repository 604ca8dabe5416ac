"""Accuracy predictor for NAS cells (NAR-Former V2, Sec. 3.3 and 4.3) and its losses.

Dimension letters:
    B  cells in the batch
    N  nodes per cell (7 for NAS-Bench-101, 8 for NAS-Bench-201)
    F  encoded node width (128: 64 op + 64 position, supplement C.1)
    D  hidden width (512 in the paper)
    L  graph-aided attention blocks (6)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from nnprof.model import GraphAttentionBlock, Packed
from nnprof.nas.cells import NODE_DIM


@dataclass
class NasArgs:
    node_dim: int = NODE_DIM  # F: 64-dim op + 64-dim position encoding
    hidden: int = 512  # D (supplement C.2)
    layers: int = 6  # L graph-aided attention blocks (reference accuracy configuration)
    ffn_ratio: int = 4  # GFFN hidden / D (supplement C.2)
    groups: int = 8  # GFFN groups
    dropout: float = 0.05
    # f_PE of the cell encoding (`nnprof.nas.cells.encode_cells`): "nerf" (the frequencies of
    # the reference code) or "trans" (Transformer frequencies); docs/nas.md has the pilots
    pe: str = "nerf"

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> NasArgs:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        known.setdefault("pe", "trans")  # checkpoints written before the field existed
        return cls(**known)


class AccuracyPredictor(nn.Module):
    r"""L graph-aided attention blocks, hierarchical fusion, regression head.

    Every block's output is read out by a mean over the cell's real nodes,
    :math:`r_l = \mathrm{mean}_i H^l_i` (B, D). The hierarchical fusion (paper Sec. 3.3:
    "the weighted sum of the outputs of each transformer layer with adaptive weights")
    computes per-cell weights from all readouts and sums:

    .. math::
        w = \sigma(W_2\,\mathrm{ReLU}(W_1 [r_1; \ldots; r_L])) \in (0,1)^L, \qquad
        r = \sum_l w_l r_l

    with :math:`W_1: LD \to LD/4`, :math:`W_2: LD/4 \to L` (as in the reference code).
    The head is Eq. 12: :math:`\hat y = -\log\sigma(\mathrm{FC}(\mathrm{ReLU}(\mathrm{FC}(
    \mathrm{ReLU}(\mathrm{FC}(r))))))`, dropout after each ReLU; the output is positive.

    The first block takes the 128-dim encoding straight to D (its W_a, W_r project), as in
    the reference; blocks are `nnprof.model.GraphAttentionBlock`, shared with the latency
    predictor.

    Shapes: x (B, N, F), adj (B, N, N) symmetric, degree (B, N), mask (B, N) -> (B,)
    """

    def __init__(self, args: NasArgs):
        super().__init__()
        self.args = args
        d, n_layers = args.hidden, args.layers
        self.blocks = nn.ModuleList(
            GraphAttentionBlock(
                d, args.ffn_ratio, args.groups, args.dropout, in_dim=args.node_dim if i == 0 else d
            )
            for i in range(n_layers)
        )
        self.fusion = nn.Sequential(
            nn.Linear(n_layers * d, n_layers * d // 4),
            nn.ReLU(),
            nn.Linear(n_layers * d // 4, n_layers),
            nn.Sigmoid(),
        )
        self.fc1 = nn.Linear(d, d)
        self.fc2 = nn.Linear(d, d)
        self.fc3 = nn.Linear(d, 1)
        self.drop = nn.Dropout(args.dropout)

    def forward(
        self, x: torch.Tensor, adj: torch.Tensor, degree: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        # Pack the batch once for all blocks (the real nodes as rows R, the edges as index
        # lists): the same as calling each block on the padded tensors, which packs again.
        p = Packed.from_dense(adj, mask)
        h = p.gather(x)  # (R, F)
        deg = p.gather(degree)  # (R,)
        count = mask.sum(1, keepdim=True).clamp(min=1).to(x.dtype)  # (B, 1)
        readouts = []
        for block in self.blocks:
            h = block.forward_packed(h, deg, p)  # (R, D)
            readouts.append(p.sum_nodes(h) / count)  # (B, D) mean over the real nodes
        r = torch.stack(readouts, dim=1)  # (B, L, D)
        w = self.fusion(r.flatten(1))  # (B, L)
        fused = (r * w.unsqueeze(-1)).sum(1)  # (B, D)
        z = self.drop(F.relu(self.fc1(fused)))  # (B, D)
        z = self.drop(F.relu(self.fc2(z)))  # (B, D)
        return -F.logsigmoid(self.fc3(z)).squeeze(-1)  # (B,)


def sr_loss(pred: torch.Tensor, target: torch.Tensor, perm: torch.Tensor) -> torch.Tensor:
    r"""Sequence-ranking loss of NAR-Former (Yi et al., CVPR 2023, Sec. 3.4, "L_SR").

    Pair every cell i of the batch with cell :math:`\pi(i)` (a random permutation of the
    batch, drawn anew each step) and ask the predicted *differences* to match the true
    ones:

    .. math::
        L_{SR} = \frac{1}{B} \sum_i \big| (\hat y_i - \hat y_{\pi(i)}) - (y_i - y_{\pi(i)}) \big|

    It is zero when the predictions equal the targets up to one shared offset (the order
    and the gaps are right) and positive as soon as a pair's gap is wrong; a swapped pair
    costs twice its gap. L1, as in the reference code.

    Shapes: pred (B,), target (B,), perm (B,) long -> scalar
    """
    return (pred - pred[perm] - (target - target[perm])).abs().mean()


def ac_loss(pred: torch.Tensor, pred_aug: torch.Tensor) -> torch.Tensor:
    r"""Architecture-consistency loss of NAR-Former (Yi et al., CVPR 2023, Sec. 3.4, "L_AC").

    A cell and its information-flow-consistent renumbering (`nnprof.nas.cells.augment_cells`)
    are the same network, so their predictions should agree:

    .. math::
        L_{AC} = \frac{1}{B} \sum_i | \hat y_i - \hat y^{aug}_i |

    L1, as in the reference code. Shapes: pred (B,), pred_aug (B,) -> scalar
    """
    return (pred - pred_aug).abs().mean()


@dataclass
class LossWeights:
    mse: float = 1.0
    sr: float = 0.1  # supplement C.3.2
    ac: float = 0.5


def total_loss(
    pred: torch.Tensor,
    pred_aug: torch.Tensor,
    target: torch.Tensor,
    perm: torch.Tensor,
    w: LossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    r"""NAR-Former V2's accuracy loss (supplement C.3.2):

    .. math::
        L = 1 \cdot \mathrm{MSE} + 0.1\, L_{SR} + 0.5\, L_{AC}

    MSE and L_SR run over the original and the augmented cells together (2B predictions,
    targets repeated), L_AC between the two halves; ``perm`` permutes the 2B predictions.

    Shapes: pred (B,), pred_aug (B,), target (B,), perm (2B,) -> scalar, parts
    """
    w = w or LossWeights()
    both = torch.cat([pred, pred_aug])  # (2B,)
    y = torch.cat([target, target])  # (2B,)
    mse = F.mse_loss(both, y)
    sr = sr_loss(both, y, perm)
    ac = ac_loss(pred, pred_aug)
    loss = w.mse * mse + w.sr * sr + w.ac * ac
    return loss, {"mse": mse.item(), "sr": sr.item(), "ac": ac.item()}
