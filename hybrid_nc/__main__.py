import sys

from hybrid_nc.cli import main

sys.exit(main())
