from portwatch.entry import main

raise SystemExit(main())
