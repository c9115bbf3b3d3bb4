from uniav.cli import main

raise SystemExit(main())
