import sys

from autocommit.cli import main

sys.exit(main())
