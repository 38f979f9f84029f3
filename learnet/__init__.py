"""learnet: micro-expression recognition with dynamic images and LEARNet (Verma et al., IEEE TIP 2020).

Data flows one way: clip (`video`) -> aligned face (`face`) -> dynamic image (`dynamic`) -> LEARNet
(`model`, loaded by `hub`) -> prediction (`pipeline`).
"""
__version__ = "0.1.0"
