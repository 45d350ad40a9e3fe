//! Notification triggers against real peers: an SMTP server, and HTTP receivers standing in for
//! Slack, Teams and webhooks.

mod common;
mod discord;
mod gotify;
mod http;
mod ntfy;
mod slack;
mod smtp;
mod teams;
mod telegram;
