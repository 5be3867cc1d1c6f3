import sys

from recsys_dr.cli.main import main

sys.exit(main())
