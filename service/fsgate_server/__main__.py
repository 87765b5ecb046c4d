import sys

from fsgate_server.cli import main

sys.exit(main())
