//! The significance tests against reference values computed with scipy 1.17.1 by
//! `tests/fixtures/metrics/scipy_reference.py` (its output is pasted next to each assertion).

use super::stats::*;

fn close(got: f64, want: f64, tol: f64) {
    assert!((got - want).abs() <= tol, "got {got}, want {want}");
}

#[test]
fn two_proportion_z_matches_scipy() {
    // z -2.9814239699997196 p 0.0028691127920766127
    // wald ci -0.06623717630897782 -0.013762823691022167; mde 0.037587209954755035; n 880
    let r = two_proportion_z(120.0, 1000.0, 80.0, 1000.0, 0.05).unwrap();
    close(r.statistic, -2.981_423_969_999_719_6, 1e-12);
    close(r.p_value, 0.002_869_112_792_076_612_7, 1e-12);
    close(r.ci.0, -0.066_237_176_308_977_82, 1e-12);
    close(r.ci.1, -0.013_762_823_691_022_167, 1e-12);
    close(r.mde, 0.037_587_209_954_755_035, 1e-12);
    assert_eq!(r.sample_size, Some(880.0));
    assert_eq!(r.test, "two_proportion_z");
}

#[test]
fn welch_t_matches_scipy() {
    // welch t -3.914446705049966 p 0.001238438067205704 df 15.978315599348813
    // welch ci -3.5727022877329553 -1.0622977122670465
    let before = [12.1, 14.3, 11.8, 15.2, 13.9, 12.7, 14.8, 13.1, 12.4, 16.0];
    let after = [10.2, 11.9, 12.5, 9.8, 11.1, 10.7, 12.9, 11.4];
    let r = welch_t(moments(&before), moments(&after), 0.05).unwrap();
    close(r.statistic, -3.914_446_705_049_966, 1e-10);
    close(r.p_value, 0.001_238_438_067_205_704, 1e-10);
    close(r.ci.0, -3.572_702_287_732_955_3, 1e-8);
    close(r.ci.1, -1.062_297_712_267_046_5, 1e-8);
}

#[test]
fn exact_permutation_test_matches_scipy() {
    // permutation stat 2.3449999999999998 p 0.031746031746031744 (= 4/126)
    let before = [3.1, 2.4, 5.0, 4.2];
    let after = [6.3, 5.9, 7.1, 4.8, 6.0];
    let r = permutation(&before, &after, 0.05, 9_999, 7).unwrap();
    close(r.statistic, 2.345, 1e-12);
    close(r.p_value, 0.031_746_031_746_031_744, 1e-12);
    assert!(r.ci.0 < 2.345 && 2.345 < r.ci.1, "{r:?}");
}

#[test]
fn random_permutation_test_agrees_with_scipy_within_sampling_error() {
    // 30 vs 30 values: too many splits to enumerate; 9,999 random ones estimate p with a
    // standard error of sqrt(p(1-p)/9999) ≈ 0.0027. scipy with 2,000,000 random splits:
    // permutation 30v30 p 0.075988962005519
    let before: Vec<f64> = (0..30).map(|i| f64::from(i % 7) + 0.5).collect();
    let after: Vec<f64> = (0..30).map(|i| f64::from(i % 7) + 1.5).collect();
    let r = permutation(&before, &after, 0.05, 9_999, 11).unwrap();
    let again = permutation(&before, &after, 0.05, 9_999, 11).unwrap();
    assert_eq!(r, again, "seeded: the same result every time");
    let reference = 0.075_988_962_005_519;
    let se = (reference * (1.0 - reference) / 9_999.0_f64).sqrt();
    assert!(
        (r.p_value - reference).abs() < 4.0 * se,
        "{} vs {reference}",
        r.p_value
    );
}

#[test]
fn student_t_and_incomplete_beta_match_scipy() {
    // t.sf(2.1, 7.5) * 2 = 0.07123707145807809; t.ppf(0.975, 12.3) = 2.172933481758962;
    // betainc(2.5, 0.5, 0.3) = 0.018927124071945658
    close(t_two_sided(2.1, 7.5), 0.071_237_071_458_078_09, 1e-12);
    close(t_quantile(0.975, 12.3), 2.172_933_481_758_962, 1e-9);
    close(
        incomplete_beta(2.5, 0.5, 0.3),
        0.018_927_124_071_945_658,
        1e-13,
    );
}

#[test]
fn degenerate_inputs_give_no_result_or_no_change() {
    assert!(two_proportion_z(0.0, 0.0, 1.0, 2.0, 0.05).is_none());
    assert!(welch_t(moments(&[1.0]), moments(&[1.0, 2.0]), 0.05).is_none());
    assert!(permutation(&[], &[1.0], 0.05, 100, 1).is_none());
    let same = two_proportion_z(0.0, 10.0, 0.0, 10.0, 0.05).unwrap();
    assert_eq!(same.p_value, 1.0);
    assert_eq!(same.sample_size, None);
}
