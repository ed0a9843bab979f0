//! Web sessions in the Segment spec: page views, clicks, errors, bot searches, logins.

use crate::catalog::{
    BROWSE_PAGES, BUTTONS, CATEGORIES, REFERRERS, WEB_ERRORS, bot_queries, help_page,
};
use crate::ids::hex32;
use crate::model::{WebEvent, WebKind};
use crate::rng::{RngExt, SimRng, pick_str};
use crate::time::SEC;

/// Base URL of the store.
pub(crate) const SITE: &str = "https://www.example.com";

/// One browser (cookie) of a visitor.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub(crate) anon_id: String,
    /// analytics.js keeps the userId after a login: later events carry it.
    pub(crate) user_id: Option<String>,
}

/// Who is browsing.
pub(crate) struct Visitor<'a> {
    pub(crate) customer: Option<u64>,
    pub(crate) contact_id: Option<&'a str>,
    pub(crate) email: Option<&'a str>,
    /// Probability of logging in when the site asks.
    pub(crate) login_prop: f64,
}

/// What a session is for.
#[derive(Debug, Clone, Copy)]
pub(crate) enum SessionKind {
    Browse,
    /// Ends with an order confirmation at the given instant.
    Shopping {
        end_us: i64,
    },
    /// Looking for help on a topic; `search` adds bot searches.
    Support {
        topic: &'static str,
        search: bool,
    },
}

/// What a session produced.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionOut {
    pub(crate) first_us: i64,
    pub(crate) last_us: i64,
    /// Errors shown: (at, topic they are about).
    pub(crate) errors: Vec<(i64, &'static str)>,
    /// Bot searches: (at, result count).
    pub(crate) searches: Vec<(i64, i64)>,
    /// The last pages opened: (at, url, title).
    pub(crate) pages: Vec<(i64, String, &'static str)>,
}

/// A page of the site.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page<'p> {
    pub(crate) path: &'p str,
    pub(crate) title: &'static str,
    pub(crate) referrer: &'static str,
}

impl<'p> Page<'p> {
    pub(crate) fn new(path: &'p str, title: &'static str) -> Self {
        Page {
            path,
            title,
            referrer: "",
        }
    }
}

const HOME: &str = "Home | Example Store";
const PRODUCT: &str = "Product | Example Store";
const CATEGORY: &str = "Category | Example Store";
const CART: &str = "Cart | Example Store";
const SIGN_IN: &str = "Sign in | Example Store";

fn ms(us: i64) -> i64 {
    us.div_euclid(1000) * 1000
}

/// Gap between two page views: 4 s plus an exponential with mean 40 s, millisecond precision.
fn gap(rng: &mut SimRng) -> i64 {
    (rng.exp_mean(40_000.0) as i64 + 4_000) * 1_000
}

/// Emits one visitor's events.
pub(crate) struct WebWriter<'a, 'v> {
    pub(crate) events: &'a mut Vec<WebEvent>,
    pub(crate) visitor: &'a Visitor<'v>,
}

impl WebWriter<'_, '_> {
    fn push(&mut self, rng: &mut SimRng, device: &Device, at_us: i64, kind: WebKind, page: Page) {
        self.events.push(WebEvent {
            message_id: format!("ajs-next-{}", hex32(rng)),
            at_us: ms(at_us),
            kind,
            anon_id: device.anon_id.clone(),
            user_id: device.user_id.clone(),
            path: page.path.to_owned(),
            title: page.title,
            referrer: page.referrer,
            customer: self.visitor.customer,
        });
    }

    fn page(&mut self, rng: &mut SimRng, d: &Device, out: &mut SessionOut, at: i64, page: Page) {
        self.push(rng, d, at, WebKind::Page, page);
        out.pages
            .push((ms(at), format!("{SITE}{}", page.path), page.title));
        if out.pages.len() > 5 {
            out.pages.remove(0);
        }
        out.last_us = out.last_us.max(ms(at));
    }

    /// Sign-in page, `identify` and `Login`; returns the time after them.
    fn login(&mut self, rng: &mut SimRng, d: &mut Device, at: i64) -> i64 {
        let (Some(contact), Some(email)) = (self.visitor.contact_id, self.visitor.email) else {
            return at;
        };
        let login = Page::new("/login", SIGN_IN);
        let mut t = at;
        self.push(rng, d, t, WebKind::Page, login);
        t += rng.int_in(8_000, 40_000) * 1_000;
        d.user_id = Some(contact.to_owned());
        self.push(rng, d, t, WebKind::Identify(email.to_owned()), login);
        self.push(rng, d, t + 5_000, WebKind::Login, login);
        t + rng.int_in(1_000, 3_000) * 1_000
    }

    /// Generates one session starting at `start` (shopping sessions end at the order).
    pub(crate) fn session(
        &mut self,
        rng: &mut SimRng,
        device: &mut Device,
        kind: SessionKind,
        start: i64,
        error_boost: f64,
    ) -> SessionOut {
        let mut out = SessionOut {
            first_us: ms(start),
            last_us: ms(start),
            ..SessionOut::default()
        };
        let referrer = pick_str(rng, REFERRERS);
        let error_p = 0.012 * error_boost;
        let login_prop = self.visitor.login_prop;
        let mut t = start;
        match kind {
            SessionKind::Browse => {
                let (p, title) = *rng.pick(BROWSE_PAGES).unwrap_or(&("/", HOME));
                let landing = Page {
                    path: p,
                    title,
                    referrer,
                };
                self.page(rng, device, &mut out, t, landing);
                for _ in 0..rng.int_in(1, 7) {
                    t += gap(rng);
                    let (_, slug) = *rng.pick(CATEGORIES).unwrap_or(&("Books", "books"));
                    if rng.chance(0.5) {
                        let path = format!("/c/{slug}");
                        self.page(rng, device, &mut out, t, Page::new(&path, CATEGORY));
                    } else {
                        let path = format!("/p/{slug}/{}", rng.int_in(10_000, 99_999));
                        self.page(rng, device, &mut out, t, Page::new(&path, PRODUCT));
                        if rng.chance(0.4) {
                            t += rng.int_in(2_000, 20_000) * 1_000;
                            let label = pick_str(rng, BUTTONS);
                            let page = Page::new(&path, PRODUCT);
                            self.push(rng, device, t, WebKind::Click(label), page);
                        }
                    }
                    if rng.chance(error_p) {
                        t += rng.int_in(1, 5) * SEC;
                        self.error(rng, device, &mut out, t, None);
                    }
                }
                if device.user_id.is_none() && rng.chance(login_prop * 0.25) {
                    t += gap(rng);
                    t = self.login(rng, device, t);
                    let page = Page::new("/account", "Your account | Example Store");
                    self.page(rng, device, &mut out, t, page);
                }
            }
            SessionKind::Shopping { end_us } => {
                let (_, slug) = *rng.pick(CATEGORIES).unwrap_or(&("Books", "books"));
                let landing = Page {
                    path: "/",
                    title: HOME,
                    referrer,
                };
                self.page(rng, device, &mut out, t, landing);
                t += gap(rng);
                let cat_path = format!("/c/{slug}");
                self.page(rng, device, &mut out, t, Page::new(&cat_path, CATEGORY));
                for _ in 0..rng.int_in(1, 3) {
                    t += gap(rng);
                    let path = format!("/p/{slug}/{}", rng.int_in(10_000, 99_999));
                    self.page(rng, device, &mut out, t, Page::new(&path, PRODUCT));
                }
                t += rng.int_in(3_000, 30_000) * 1_000;
                let cart = Page::new("/cart", CART);
                self.push(rng, device, t, WebKind::Click("Add to cart"), cart);
                t += gap(rng);
                self.page(rng, device, &mut out, t, cart);
                if device.user_id.is_none() && rng.chance(login_prop) {
                    t += gap(rng);
                    t = self.login(rng, device, t);
                }
                t += gap(rng);
                let checkout = Page::new("/checkout", "Checkout | Example Store");
                self.page(rng, device, &mut out, t, checkout);
                if rng.chance(0.05 * error_boost) {
                    t += rng.int_in(10, 60) * SEC;
                    self.error(rng, device, &mut out, t, Some(0));
                }
                // The order confirmation is at the purchase instant.
                let confirm = end_us.max(t + SEC);
                let page = Page::new("/checkout/confirmation", "Thank you! | Example Store");
                self.page(rng, device, &mut out, confirm, page);
            }
            SessionKind::Support { topic, search } => {
                let (hp, ht) = help_page(topic);
                let help = Page {
                    path: "/help",
                    title: "Help centre | Example Store",
                    referrer,
                };
                self.page(rng, device, &mut out, t, help);
                t += gap(rng);
                self.page(rng, device, &mut out, t, Page::new(hp, ht));
                if search {
                    for _ in 0..rng.int_in(1, 2) {
                        t += rng.int_in(5_000, 60_000) * 1_000;
                        let query = pick_str(rng, bot_queries(topic));
                        let count = if rng.chance(0.2) {
                            0
                        } else {
                            1 + i64::from(rng.poisson(3.0))
                        };
                        let kind = WebKind::Search(query, count);
                        self.push(rng, device, t, kind, Page::new(hp, ht));
                        out.searches.push((ms(t), count));
                        out.last_us = out.last_us.max(ms(t));
                    }
                }
                if device.user_id.is_none() && rng.chance(login_prop * 0.6) {
                    t += gap(rng);
                    t = self.login(rng, device, t);
                    let page = Page::new("/account/orders", "Your orders | Example Store");
                    self.page(rng, device, &mut out, t, page);
                }
                if rng.chance(error_p * 2.0) {
                    t += rng.int_in(1, 5) * SEC;
                    self.error(rng, device, &mut out, t, None);
                }
            }
        }
        out
    }

    /// An `Error Shown` event on the current page.
    fn error(
        &mut self,
        rng: &mut SimRng,
        device: &Device,
        out: &mut SessionOut,
        at: i64,
        which: Option<usize>,
    ) {
        let idx = which.unwrap_or_else(|| rng.int_in(0, WEB_ERRORS.len() as i64 - 1) as usize);
        let (code, message, topic) =
            WEB_ERRORS
                .get(idx)
                .copied()
                .unwrap_or(("APP-500", "Something went wrong.", "website"));
        let (path, title) = out
            .pages
            .last()
            .map(|(_, url, title)| (url.trim_start_matches(SITE).to_owned(), *title))
            .unwrap_or_else(|| ("/".to_owned(), HOME));
        let page = Page::new(&path, title);
        self.push(rng, device, at, WebKind::Error(code, message), page);
        out.errors.push((ms(at), topic));
        out.last_us = out.last_us.max(ms(at));
    }

    /// Page views while the visitor is on the phone (from `from` until `to`).
    pub(crate) fn during(
        &mut self,
        rng: &mut SimRng,
        device: &mut Device,
        topic: &'static str,
        from: i64,
        to: i64,
    ) -> SessionOut {
        let mut out = SessionOut {
            first_us: ms(from),
            last_us: ms(from),
            ..SessionOut::default()
        };
        let (hp, ht) = help_page(topic);
        let pages: [Page; 3] = [
            Page::new(hp, ht),
            Page::new("/account/orders", "Your orders | Example Store"),
            Page::new("/account/billing", "Billing | Example Store"),
        ];
        let mut t = from + rng.int_in(5_000, 60_000) * 1_000;
        let mut i = 0;
        while (t < to || i == 0) && i <= 12 {
            self.page(rng, device, &mut out, t, pages[i % 3]);
            i += 1;
            t += rng.int_in(60_000, 480_000) * 1_000;
        }
        out
    }

    /// A help-bot search that found the answer (the visitor then leaves the chat queue).
    pub(crate) fn bot_answer(
        &mut self,
        rng: &mut SimRng,
        device: &Device,
        at: i64,
        topic: &'static str,
    ) {
        let (hp, ht) = help_page(topic);
        let query = pick_str(rng, bot_queries(topic));
        let count = 1 + i64::from(rng.poisson(2.0));
        self.push(
            rng,
            device,
            at,
            WebKind::Search(query, count),
            Page::new(hp, ht),
        );
    }

    /// A `Chat Started` event on the page the chat was opened from.
    pub(crate) fn chat_started(
        &mut self,
        rng: &mut SimRng,
        device: &Device,
        at: i64,
        chat_id: &str,
        page: Page,
    ) {
        self.push(
            rng,
            device,
            at,
            WebKind::ChatStarted(chat_id.to_owned()),
            page,
        );
    }
}
