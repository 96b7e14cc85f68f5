"""`make run`'s account table lines up in a terminal whatever the width of the Chinese characters."""
from benefits.cli.cli import display_width, pad


def test_chinese_characters_take_two_columns_and_padding_lines_the_columns_up():
    rows = [("admin 亳州市总工会管理员", "admin_bozhou"), ("merchant_staff 中石化亳州分公司收银员", "cashier_sinopec"),
            ("pickup_staff 古井集团工会领奖点", "pickup_gujing")]
    assert display_width("收银员") == 6 and display_width("admin") == 5 and display_width("（）") == 4
    width = max(display_width(role) for role, _ in rows)
    lines = [pad(role, width) + "  " + user for role, user in rows]
    starts = {display_width(line[:line.rindex("  ") + 2]) for line in lines}
    assert starts == {width + 2}
