import sys

from autocommit.cli.parser import main

sys.exit(main())
