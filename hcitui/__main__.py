import sys

from hcitui.cli import main

sys.exit(main())
