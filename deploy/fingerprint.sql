-- What a Tisser database holds, in lines two databases can be compared by: the rows of
-- every table, the migrations applied, and the newest referral with its needs, its
-- placements and its slip. backup.sh writes it beside each dump, from the dump's own
-- snapshot; restore-rehearsal.sh compares a restored copy with it.
SELECT format('rows %s %s', c.relname, (xpath('/row/n/text()', query_to_xml(
           format('SELECT count(*) AS n FROM %I.%I', n.nspname, c.relname), false, true, '')))[1])
  FROM pg_class c
  JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p')
 ORDER BY c.relname;

SELECT format('migration %s %s', app, name) FROM django_migrations ORDER BY app, name;

SELECT format('referral %s %s %s %s needs=%s placements=%s slip=%s', r.id, r.code, r.stage,
              r.status,
              (SELECT string_agg(t.code, ',' ORDER BY t.code)
                 FROM referrals_referral_needs rn
                 JOIN community_catalog_taxonomyterm t ON t.id = rn.taxonomyterm_id
                WHERE rn.referral_id = r.id),
              (SELECT string_agg(p.status, ',' ORDER BY p.status)
                 FROM referrals_placement p WHERE p.referral_id = r.id),
              (SELECT s.file FROM referrals_slip s WHERE s.referral_id = r.id))
  FROM referrals_referral r
 ORDER BY r.created_at DESC, r.id DESC
 LIMIT 1;
