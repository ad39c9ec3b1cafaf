-- This migration once seeded a demo catalogue into every new database. A live shop now starts
-- empty: the demo catalogue is loaded at start-up only in sandbox mode or when asked for
-- (DEMO_CATALOGUE). Databases that ran the old seed keep its products.
SELECT 1;
