//! The look-ahead: while riders are scarce, a tick may first play the rest of the day out
//! on copies of the world, once under the plain rules, once under each [`Variant`], then
//! once for each sending a rule set makes with that sending withheld, and run under the
//! choice that did best. What a copy of the world is and how it plays out belongs to the
//! caller ([`Rollout`]); which choices are tried, in which order, and which wins is here.

use std::cmp::Reverse;

use super::bundle::Time;

/// Rules a tick may run under instead of the plain ones.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Variant {
    /// Seconds of pickup ETA a second of waiting is worth to the matcher.
    pub age_weight: f64,
    /// Offer nothing this tick: bundles may grow, and riders come nearer.
    pub hold: bool,
}

/// What a tick runs under.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Choice<S> {
    /// A variant of the rules; `None`: the plain rules.
    pub variant: Option<Variant>,
    /// This sending (a rider for a bundle) is not made this tick: the matcher pairs them
    /// otherwise (the rider may take another bundle, or wait).
    pub withheld: Option<S>,
}

impl<S> Default for Choice<S> {
    fn default() -> Self {
        Choice { variant: None, withheld: None }
    }
}

/// How a trial day went: orders delivered, then the least click-to-door in total.
pub type Score = (usize, Reverse<Time>);

/// A world that can play the rest of its day out on a copy.
pub trait Rollout {
    /// One sending of a tick (which rider went for which bundle).
    type Sending: Copy;
    type Error;

    /// Run this tick under `choice` on a copy, then the rest of the day; return the tick's
    /// sendings and how the day went.
    fn trial(&self, choice: Choice<Self::Sending>, now: Time) -> Result<(Vec<Self::Sending>, Score), Self::Error>;
}

/// The best choice for this tick among the plain rules, each of `variants`, and each of
/// their sendings withheld. Whole rule sets are tried first, so a finer change (one sending
/// withheld) wins only when it does strictly better; ties go to the plain rules.
pub fn choose<R: Rollout>(world: &R, variants: &[Variant], now: Time) -> Result<Choice<R::Sending>, R::Error> {
    let mut best: Option<(Score, Choice<R::Sending>)> = None;
    let mut keep = |score, choice| {
        if best.as_ref().is_none_or(|(b, _)| score > *b) {
            best = Some((score, choice));
        }
    };
    let mut sendings = Vec::new();
    for variant in std::iter::once(None).chain(variants.iter().copied().map(Some)) {
        let choice = Choice { variant, withheld: None };
        let (sent, score) = world.trial(choice, now)?;
        keep(score, choice);
        sendings.extend(sent.into_iter().map(|withheld| Choice { variant, withheld: Some(withheld) }));
    }
    for choice in sendings {
        keep(world.trial(choice, now)?.1, choice);
    }
    Ok(best.map(|(_, choice)| choice).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A world whose trials are scored by a function of the choice; every trial of the plain
    /// rules sends 7 and 8.
    struct Scored<F>(F);

    impl<F: Fn(Choice<u8>) -> Score> Rollout for Scored<F> {
        type Sending = u8;
        type Error = ();

        fn trial(&self, choice: Choice<u8>, _now: Time) -> Result<(Vec<u8>, Score), ()> {
            let sent = if choice.variant.is_some() { vec![] } else { vec![7, 8] };
            Ok((sent, (self.0)(choice)))
        }
    }

    const HOLD: Variant = Variant { age_weight: 1.0, hold: true };

    #[test]
    fn the_choice_that_delivers_most_wins_then_the_least_click_to_door_and_ties_go_to_the_plain_rules() {
        let one_more_without_7 = Scored(|c: Choice<u8>| match c.withheld {
            Some(7) => (11, Reverse(500)),
            _ => (10, Reverse(400)),
        });
        assert_eq!(choose(&one_more_without_7, &[HOLD], 0), Ok(Choice { variant: None, withheld: Some(7) }));
        let holding_is_sooner =
            Scored(|c: Choice<u8>| if c.variant.is_some() { (10, Reverse(390)) } else { (10, Reverse(400)) });
        assert_eq!(choose(&holding_is_sooner, &[HOLD], 0), Ok(Choice { variant: Some(HOLD), withheld: None }));
        let all_alike = Scored(|_: Choice<u8>| (10, Reverse(400)));
        assert_eq!(choose(&all_alike, &[HOLD], 0), Ok(Choice::default()));
    }
}
