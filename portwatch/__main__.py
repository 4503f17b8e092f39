from portwatch.launch import main

raise SystemExit(main())
