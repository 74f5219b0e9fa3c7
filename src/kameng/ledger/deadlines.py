"""What falls due on the supplier's money: sales whose refund window is over become withdrawable."""

from kameng.core.deadlines import Deadline

from .supplier_money import sales_mature_due

DEADLINES = [
    Deadline("supplier_sales_matured", sales_mature_due),
]
