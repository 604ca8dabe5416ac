"""NAS-Bench-101/201 cells: encoding, accuracy predictor, training (paper Sec. 4.3).

    cells.py      cell graphs (NB201 edge ops -> op nodes), 64+64-dim encoding, augmentation
    data.py       benchmark CSV readers (../shared/data), seeded train/val/test split
    predictor.py  6 graph-aided attention blocks + hierarchical fusion; MSE + SR + AC losses
    train.py      training loop, evaluation (Kendall tau, ACC(10%)), checkpoints

See docs/nas.md.
"""
