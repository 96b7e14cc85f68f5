"""Prize mall (积分商城): prizes, pickup points, redemptions gated by Redis and kept exact by SQL."""
