import torch

from phenbench.translators.cyclegan.image_pool import ImagePool


def test_pool_fills_then_swaps_about_half_of_the_fakes() -> None:
    pool, rng = ImagePool(4), torch.Generator().manual_seed(0)
    first = torch.arange(4.0).view(4, 1, 1, 1)
    torch.testing.assert_close(pool.query(first, rng), first)  # filling: passes through
    later = -1.0 - torch.arange(200.0).view(200, 1, 1, 1)  # each fake recognisable
    out = pool.query(later, rng)
    swapped = (out != later).sum().item()
    assert 70 < swapped < 130  # probability 1/2 per image
    assert len(pool.images) == 4


def test_pool_state_round_trip_replays_the_same_draws() -> None:
    pool, rng = ImagePool(3), torch.Generator().manual_seed(1)
    pool.query(torch.randn(3, 1, 2, 2), rng)
    copy = ImagePool(0)
    copy.load_state_dict(pool.state_dict(), torch.device("cpu"))
    rng_copy = torch.Generator()
    rng_copy.set_state(rng.get_state())
    fakes = torch.randn(10, 1, 2, 2)
    torch.testing.assert_close(pool.query(fakes, rng), copy.query(fakes, rng_copy))


def test_an_empty_pool_passes_fakes_through() -> None:
    fakes = torch.randn(3, 2, 4, 4)
    assert ImagePool(0).query(fakes, torch.Generator()) is fakes
