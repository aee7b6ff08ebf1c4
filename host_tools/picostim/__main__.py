import sys

from picostim.cli import main

sys.exit(main())
