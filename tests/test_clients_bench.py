"""The clients bench area is registered and its figures meet issue 13's bars (without the long guard run)."""

from picostim import bench
from picostim.bench import clients as bench_clients
from stim import clients, store


def test_the_clients_area_is_measured_by_make_bench() -> None:
    assert "clients" in bench.AREAS
    assert bench_clients.GUARD_SEQUENCES >= 20_000


def test_fifty_profiles_or_more_fit_on_flash_and_load_back() -> None:
    fs = bench_clients.full_flash()
    assert len(fs.read_bytes(clients.CLIENTS_FILE)) > 0
    n = bench_clients.CHANNELS
    back = clients.Clients(store.Store(fs, store.Settings([0] * n)), n, bench_clients.MAX_UA)
    assert back.warning is None and len(back.profiles) == clients.PROFILES_MAX >= 50
