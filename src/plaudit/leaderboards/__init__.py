"""Leaderboards: competitions that rank users by a metric, a points system or a streak."""
