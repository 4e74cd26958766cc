"""prodmatch: product matching for Kaggle's Shopee - Price Match Guarantee and similar tasks.

Data flows one way: data -> embed -> search -> match -> submit.
"""

__version__ = "0.1.0"
