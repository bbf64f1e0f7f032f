"""The reduced ADA pipeline: each operation against torch's own, the draws' statistics, p's heuristic."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from phenbench.translators.phenexplain.augment import AdaptiveAugment, AugmentDraw, apply_draw


def no_change(n: int) -> dict:
    return dict(flip=torch.zeros(n, dtype=torch.bool), quarter_turns=torch.zeros(n, dtype=torch.long),
                shift=torch.zeros(n, 2, dtype=torch.long), brightness=torch.zeros(n), contrast=torch.ones(n))


def with_changes(n: int, **changes) -> AugmentDraw:
    return AugmentDraw(**{**no_change(n), **changes})


IMAGES = torch.arange(2 * 2 * 6 * 6, dtype=torch.float32).reshape(2, 2, 6, 6)


def test_nothing_chosen_is_the_identity_and_p_zero_returns_the_input() -> None:
    torch.testing.assert_close(apply_draw(IMAGES, with_changes(2)), IMAGES, rtol=0, atol=0)
    assert AdaptiveAugment(batch_size=8)(IMAGES, torch.Generator()) is IMAGES


def test_flip_and_quarter_turns_match_torch() -> None:
    draw = with_changes(2, flip=torch.tensor([True, False]), quarter_turns=torch.tensor([3, 1]))
    out = apply_draw(IMAGES, draw)
    torch.testing.assert_close(out[0], torch.rot90(IMAGES[0].flip(2), 3, dims=(1, 2)), rtol=0, atol=0)
    torch.testing.assert_close(out[1], torch.rot90(IMAGES[1], 1, dims=(1, 2)), rtol=0, atol=0)


def test_translation_moves_whole_pixels_and_reflects_at_the_border() -> None:
    out = apply_draw(IMAGES, with_changes(2, shift=torch.tensor([[1, -2], [0, 0]])))
    padded = F.pad(IMAGES[:1], [2, 2, 2, 2], mode="reflect")
    # out[r, c] = in[r - 1, c + 2]: rows shifted down by 1, columns left by 2, mirrored at the edges.
    torch.testing.assert_close(out[:1], padded[:, :, 1:7, 4:10], rtol=0, atol=0)
    # By hand: the first row of channel 0 is row 1 mirrored (rows 0..5 hold 0..35 in steps of 6).
    assert out[0, 0, 0].tolist() == [8.0, 9.0, 10.0, 11.0, 10.0, 9.0]


def test_brightness_then_contrast() -> None:
    out = apply_draw(IMAGES, with_changes(2, brightness=torch.tensor([0.5, 0.0]), contrast=torch.tensor([2.0, 0.5])))
    torch.testing.assert_close(out[0], (IMAGES[0] + 0.5) * 2.0)
    torch.testing.assert_close(out[1], IMAGES[1] * 0.5)


def test_gradients_pass_through_every_operation() -> None:
    images = IMAGES.clone().requires_grad_(True)
    draw = with_changes(2, flip=torch.tensor([True, True]), quarter_turns=torch.tensor([1, 2]),
                        shift=torch.tensor([[0, 0], [1, 1]]), contrast=torch.tensor([3.0, 1.0]))
    apply_draw(images, draw).sum().backward()
    # Image 0 is a permutation scaled by 3: every pixel's gradient is 3. Image 1 repeats edge pixels.
    assert torch.all(images.grad[0] == 3.0) and images.grad[1].sum() == 2 * 36


def test_draws_follow_adas_probabilities() -> None:
    n, p = 20_000, 0.6
    draw = AugmentDraw.sample(n, 64, p, torch.Generator().manual_seed(0))
    # A chosen x-flip flips with probability 1/2: p / 2 of the images are mirrored.
    assert draw.flip.float().mean().item() == pytest.approx(p / 2, abs=0.015)
    # A chosen rotation turns 0 to 3 quarters: 3 p / 4 of the images turn.
    assert (draw.quarter_turns > 0).float().mean().item() == pytest.approx(0.75 * p, abs=0.015)
    # Translation: uniform in +-1/8 of 64 px, rounded: at most 8 px, the extremes half as likely.
    moved = draw.shift[(draw.shift != 0).any(dim=1)]
    assert draw.shift.abs().max() == 8 and len(moved) / n == pytest.approx(p * (1 - 1 / 16**2), abs=0.015)
    rows = draw.shift[:, 0][(draw.shift != 0).any(dim=1)]
    assert (rows == 8).float().mean() == pytest.approx(0.5 * (rows == 5).float().mean(), rel=0.25)
    assert (draw.brightness != 0).float().mean().item() == pytest.approx(p, abs=0.015)
    assert draw.brightness[draw.brightness != 0].std().item() == pytest.approx(0.2, rel=0.05)
    log_contrast = torch.log2(draw.contrast[draw.contrast != 1])
    assert len(log_contrast) / n == pytest.approx(p, abs=0.015) and log_contrast.std().item() == pytest.approx(0.5, rel=0.05)


def test_augment_p_follows_the_rt_heuristic_and_is_not_capped_at_one() -> None:
    pipeline = AdaptiveAugment(target=0.6, interval=4, speed_kimg=1.0, batch_size=125)  # step 0.5
    pipeline.observe(torch.tensor([1.0, 1.0, 1.0, -1.0]))  # r_t = 0.5 < 0.6: D not overfitting
    assert pipeline.adjust() == pytest.approx(0.5) and pipeline.p == 0.0  # clamped at 0
    for _ in range(3):
        pipeline.observe(torch.ones(4))  # r_t = 1 > 0.6: more augmentation
        pipeline.adjust()
    assert pipeline.p == pytest.approx(1.5)  # as the original: no upper clamp
    pipeline.observe(-torch.ones(4))
    pipeline.adjust()
    assert pipeline.p == pytest.approx(1.0)
    pipeline.observe(torch.tensor([1.0, 1.0, 1.0, 1.0, -1.0]))  # r_t = 0.6 exactly: p stays
    pipeline.adjust()
    assert pipeline.p == pytest.approx(1.0)


def two_ranks() -> tuple[AdaptiveAugment, AdaptiveAugment]:
    """Two processes' pipelines after one D pass: signs (+, +, +, -) on rank 0, (-, -, -, -) on rank 1."""
    ranks = AdaptiveAugment(target=0.0, interval=1, speed_kimg=1.0, batch_size=8), \
        AdaptiveAugment(target=0.0, interval=1, speed_kimg=1.0, batch_size=8)
    ranks[0].observe(torch.tensor([2.0, 0.5, 1.0, -3.0]))
    ranks[1].observe(torch.tensor([-1.0, -0.5, -2.0, -4.0]))
    return ranks


def sum_of(ranks):
    """What accelerate's reduce(sum) returns on every rank: the sum of the ranks' (signs, count)."""
    total = sum(rank._pending() for rank in ranks)
    return lambda _: total


def test_p_moves_by_the_signs_of_all_processes() -> None:
    ranks = two_ranks()
    total = sum_of(ranks)
    # Rank 0 alone has r_t = 0.5 (p would rise), rank 1 alone -1; together (2 - 4) / 8 = -0.25 < 0:
    # both lower p, which stays at 0, the same on both.
    assert [rank.adjust(total) for rank in ranks] == [-0.25, -0.25]
    assert [rank.p for rank in ranks] == [0.0, 0.0]
    assert two_ranks()[0].adjust() == 0.5  # one process: its own signs


def test_pooled_statistics_resume_to_the_same_adjustment() -> None:
    """A checkpoint between two adjustments: rank 0 holds (and saves) the statistics of both ranks."""
    ranks = two_ranks()
    total = sum_of(ranks)
    for rank, keep in zip(ranks, (True, False)):
        rank.pool(total, keep=keep)
    saved = ranks[0].state_dict()
    assert (saved["sign_sum"], saved["count"]) == (-2.0, 8.0)
    resumed = AdaptiveAugment(target=0.0, interval=1, speed_kimg=1.0, batch_size=8), \
        AdaptiveAugment(target=0.0, interval=1, speed_kimg=1.0, batch_size=8)
    resumed[0].load_state_dict(saved)
    resumed[1].load_state_dict(saved, with_pending=False)
    # One more pass, (+, +) on each rank: (-2 + 4) / 12, as an uninterrupted run would see.
    for rank in resumed:
        rank.observe(torch.tensor([1.0, 1.0]))
    total = sum_of(resumed)
    assert [rank.adjust(total) for rank in resumed] == [pytest.approx(2 / 12)] * 2
