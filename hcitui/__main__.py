import sys

from hcitui.cli.main import main

sys.exit(main())
