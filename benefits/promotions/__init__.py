"""Discount rules (优惠规则), their versions, budgets and limits, and the pure engine."""
