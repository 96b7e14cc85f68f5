from datetime import date, datetime, timezone

from benefits import clock


def test_business_day_is_china_time():
    # 16:30 UTC is 00:30 the next day in Shanghai
    with clock.freeze(datetime(2026, 3, 1, 16, 30, tzinfo=timezone.utc)):
        assert clock.business_day() == date(2026, 3, 2)


def test_day_bounds_in_utc():
    start, end = clock.china_day_bounds_utc(date(2026, 3, 2))
    assert start == datetime(2026, 3, 1, 16, 0, tzinfo=timezone.utc)
    assert end == datetime(2026, 3, 2, 16, 0, tzinfo=timezone.utc)


def test_freeze_restores():
    before = clock.now()
    with clock.freeze(datetime(2020, 1, 1, tzinfo=timezone.utc)):
        assert clock.now().year == 2020
    assert clock.now() >= before
