import sys

from services.intake.partners.cli import main

sys.exit(main())
