"""hcitui: an SConfig-style console for upgrading Azure Stack HCI stretched clusters to 23H2."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hcitui")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.1.0"
