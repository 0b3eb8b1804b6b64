//! Benchmark: what preflight costs on a big table. One table of `PREFLIGHT_ROWS` rows (default
//! 1 000 000) and a target that adds NOT NULL, a unique key, a partial unique index, a CHECK, a
//! foreign key and a text → integer retype to it: six data checks, each a scan at most. Prints the
//! time of each preflight run (read-only) and the blockers it found.
//!
//! Run: `cargo bench -p schema --bench preflight` (`PREFLIGHT_ROWS=200000` for a smaller scale).

use std::time::Instant;

const RUNS: usize = 3;

fn main() {
    let rows: u64 = std::env::var("PREFLIGHT_ROWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let live = testkit::empty_db().await;
        let target = testkit::empty_db().await;
        let mut conn = live.connect().await;
        let started = Instant::now();
        sqlx::raw_sql(&format!(
            "CREATE TABLE public.users (id bigint PRIMARY KEY);
             CREATE TABLE public.letters (id bigint PRIMARY KEY, user_id bigint, email text,
                                          status text, seconds text, active boolean);
             INSERT INTO public.users SELECT generate_series(1, {users});
             INSERT INTO public.letters
               SELECT g, 1 + g % {users}, 'u' || g || '@x', CASE WHEN g % 1000 = 0 THEN 'paid' ELSE 'succeeded' END,
                      CASE WHEN g % 100000 = 0 THEN 'n/a' ELSE (g % 600)::text END, g % 3 = 0
               FROM generate_series(1, {rows}) g;
             UPDATE public.letters SET email = NULL WHERE id % 50000 = 0;
             ANALYZE;",
            users = (rows / 5).max(1)
        ))
        .execute(&mut conn)
        .await
        .expect("filling the live table");
        eprintln!("filled {rows} rows in {:.1} s", started.elapsed().as_secs_f64());
        let mut tconn = target.connect().await;
        sqlx::raw_sql(
            "CREATE TABLE public.users (id bigint PRIMARY KEY);
             CREATE TABLE public.letters (id bigint PRIMARY KEY, user_id bigint REFERENCES public.users (id),
                 email text NOT NULL UNIQUE, status text CHECK (status IN ('succeeded', 'failed')),
                 seconds integer, active boolean);
             CREATE UNIQUE INDEX one_active ON public.letters (user_id) WHERE active;",
        )
        .execute(&mut tconn)
        .await
        .expect("the target");
        let from = schema::introspect_url(&live.url).await.expect("introspect");
        let to = schema::introspect_url(&target.url).await.expect("introspect");
        let plan = schema::plan(&from, &to, schema::CompareOptions::default());
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..RUNS {
            let t = Instant::now();
            let pf = schema::preflight(&live.url, &from, &plan, &[])
                .await
                .expect("preflight");
            times.push(t.elapsed().as_secs_f64());
            last = Some(pf);
        }
        let pf = last.expect("ran");
        times.sort_by(f64::total_cmp);
        println!(
            "preflight on {rows} rows: {} checks, {} blockers, median {:.2} s (runs: {})",
            pf.checks,
            pf.blockers.len(),
            times[RUNS / 2],
            times
                .iter()
                .map(|t| format!("{t:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        for b in &pf.blockers {
            println!("  {} {}: {} rows", b.kind, b.object, b.count);
        }
    });
}
