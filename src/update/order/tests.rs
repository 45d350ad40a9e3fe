use super::*;

/// A container named `name` with ID `<name>-id`, built as the lead builds them from inspect
/// data.
fn node(name: &str) -> Builder {
    Builder {
        name: format!("/{name}"),
        links: Vec::new(),
        network_mode: "bridge".into(),
        labels: BTreeMap::new(),
        updating: false,
    }
}

struct Builder {
    name: String,
    links: Vec<String>,
    network_mode: String,
    labels: BTreeMap<String, String>,
    updating: bool,
}

impl Builder {
    /// A legacy link, written as Docker stores it: `/db:/web/db`.
    fn link(mut self, to: &str) -> Self {
        let me = self.name.clone();
        self.links.push(format!("/{to}:{me}/{to}"));
        self
    }

    fn network(mut self, mode: &str) -> Self {
        self.network_mode = mode.into();
        self
    }

    fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    fn compose(self, project: &str, service: &str) -> Self {
        self.label(COMPOSE_PROJECT, project)
            .label(COMPOSE_SERVICE, service)
    }

    fn updating(mut self) -> Self {
        self.updating = true;
        self
    }

    fn build(self) -> Node {
        let name = self.name.trim_start_matches('/');
        let mut node = Node::from_parts(
            format!("{name}-id"),
            &self.name,
            &self.links,
            &self.network_mode,
            self.labels,
        );
        node.updating = self.updating;
        node
    }
}

/// The only caller of [`plan`]: renders the plan by container name, one field per line, empty
/// fields left out, and compares it with `expected` (leading blanks of its lines ignored).
fn check(nodes: Vec<Builder>, expected: &str) {
    let nodes: Vec<Node> = nodes.into_iter().map(Builder::build).collect();
    let plan = plan(&nodes);
    let name = |id: &String| {
        nodes
            .iter()
            .find(|n| &n.id == id)
            .map(|n| n.name.clone())
            .unwrap_or_else(|| panic!("the plan names an unknown ID {id}"))
    };
    let names =
        |ids: &mut dyn Iterator<Item = &String>| ids.map(name).collect::<Vec<_>>().join(" ");
    assert_eq!(
        plan.stop_order,
        plan.order.iter().rev().cloned().collect::<Vec<_>>(),
        "the stop order is the start order reversed"
    );
    let mut lines = vec![
        format!("order: {}", names(&mut plan.order.iter())),
        format!("stop: {}", names(&mut plan.stop_order.iter())),
        format!("restart: {}", names(&mut plan.restart.iter())),
        format!("recreate: {}", names(&mut plan.recreate_for_network.iter())),
    ];
    lines.extend(
        plan.skipped
            .iter()
            .map(|(id, reason)| format!("skipped: {} ({reason})", name(id))),
    );
    lines.extend(plan.notes.iter().map(|note| format!("note: {note}")));
    let actual: Vec<&str> = lines
        .iter()
        .map(String::as_str)
        .filter(|line| !line.ends_with(": "))
        .collect();
    let expected: Vec<&str> = expected
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(actual, expected);
}

#[test]
fn updating_the_bottom_of_a_chain_restarts_everything_above_it() {
    check(
        vec![
            node("proxy").link("app"),
            node("db").updating(),
            node("app").link("db"),
        ],
        "
        order: db app proxy
        stop: proxy app db
        restart: app proxy
        ",
    );
}

#[test]
fn updating_the_top_of_a_chain_touches_only_it() {
    check(
        vec![
            node("proxy").link("app").updating(),
            node("db"),
            node("app").link("db"),
        ],
        "
        order: proxy
        stop: proxy
        ",
    );
}

#[test]
fn updating_the_middle_restarts_what_depends_on_it_only() {
    check(
        vec![
            node("proxy").link("app"),
            node("db"),
            node("app").link("db").updating(),
        ],
        "
        order: app proxy
        stop: proxy app
        restart: proxy
        ",
    );
}

#[test]
fn dependencies_start_first_even_when_both_update() {
    check(
        vec![node("a").link("z").updating(), node("z").updating()],
        "
        order: z a
        stop: a z
        ",
    );
}

#[test]
fn the_depends_on_label_in_either_spelling() {
    check(
        vec![
            node("db").updating(),
            node("app").label(DEPENDS_ON, "db"),
            node("worker").label(WATCHTOWER_DEPENDS_ON, " /db , "),
        ],
        "
        order: db app worker
        stop: worker app db
        restart: app worker
        ",
    );
}

#[test]
fn the_native_depends_on_label_wins_over_watchtowers() {
    let both = node("app")
        .label(DEPENDS_ON, "db,cache")
        .label(WATCHTOWER_DEPENDS_ON, "other")
        .build();
    assert_eq!(both.depends_on, ["db", "cache"]);
}

#[test]
fn links_are_read_as_docker_stores_them() {
    let parsed = Node::from_parts(
        "x",
        "/web",
        &["/db:/web/db".into(), "cache:redis".into(), "".into()],
        "default",
        BTreeMap::new(),
    );
    assert_eq!(parsed.name, "web");
    assert_eq!(parsed.links, ["db", "cache"]);
    assert_eq!(parsed.network_container, None);
}

#[test]
fn compose_depends_on_names_services_of_the_same_project() {
    check(
        vec![
            node("shop-db-1").compose("shop", "db").updating(),
            node("blog-db-1").compose("blog", "db"),
            node("shop-web-1").compose("shop", "web").label(
                COMPOSE_DEPENDS_ON,
                "db:service_healthy:false,cache:service_started:true",
            ),
            node("blog-web-1")
                .compose("blog", "web")
                .label(COMPOSE_DEPENDS_ON, "db:service_started"),
        ],
        "
        order: shop-db-1 shop-web-1
        stop: shop-web-1 shop-db-1
        restart: shop-web-1
        note: shop-web-1 depends on cache (compose depends_on), which is not a container here; ignored
        ",
    );
}

#[test]
fn compose_depends_on_reaches_every_replica_of_the_service() {
    check(
        vec![
            node("p-api-2").compose("p", "api").updating(),
            node("p-api-1").compose("p", "api").updating(),
            node("p-lb-1")
                .compose("p", "lb")
                .label(COMPOSE_DEPENDS_ON, "api:service_started:false"),
        ],
        "
        order: p-api-1 p-api-2 p-lb-1
        stop: p-lb-1 p-api-2 p-api-1
        restart: p-lb-1
        ",
    );
}

#[test]
fn compose_depends_on_without_a_project_is_not_resolved() {
    check(
        vec![
            node("db").compose("shop", "db").updating(),
            node("web").label(COMPOSE_DEPENDS_ON, "db:service_started:false"),
        ],
        "
        order: db
        stop: db
        note: web depends on db (compose depends_on), which is not a container here; ignored
        ",
    );
}

#[test]
fn a_shared_network_stack_by_name_means_re_creating() {
    check(
        vec![
            node("vpn").updating(),
            node("torrent").network("container:vpn"),
            node("ui").link("torrent"),
        ],
        "
        order: vpn torrent ui
        stop: ui torrent vpn
        restart: torrent ui
        recreate: torrent
        ",
    );
}

#[test]
fn a_shared_network_stack_by_id_or_short_id_means_re_creating() {
    let vpn = Node {
        id: "4f1c0a9e2b7d3e6f8a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071".into(),
        name: "vpn".into(),
        updating: true,
        ..Node::default()
    };
    let by_id = Node::from_parts(
        "a-id",
        "/a",
        &[],
        &format!("container:{}", vpn.id),
        BTreeMap::new(),
    );
    let by_short_id =
        Node::from_parts("b-id", "/b", &[], "container:4f1c0a9e2b7d", BTreeMap::new());
    let too_short = Node::from_parts("c-id", "/c", &[], "container:4f1c", BTreeMap::new());
    let plan = plan(&[too_short, by_short_id, by_id, vpn.clone()]);
    assert_eq!(plan.order, [vpn.id.as_str(), "a-id", "b-id"]);
    assert_eq!(
        plan.recreate_for_network,
        BTreeSet::from(["a-id".into(), "b-id".into()])
    );
    assert_eq!(
        plan.notes,
        ["c depends on 4f1c (network mode container:), which is not a container here; ignored"]
    );
}

#[test]
fn re_creating_for_the_network_carries_down_a_chain_of_shared_stacks() {
    check(
        vec![
            node("vpn").updating(),
            node("proxy").network("container:vpn"),
            node("app").network("container:proxy"),
        ],
        "
        order: vpn proxy app
        stop: app proxy vpn
        restart: app proxy
        recreate: app proxy
        ",
    );
}

#[test]
fn sharing_the_stack_of_a_container_only_restarted_needs_no_re_creating() {
    check(
        vec![
            node("db").updating(),
            node("vpn").link("db"),
            node("torrent").network("container:vpn"),
        ],
        "
        order: db vpn torrent
        stop: torrent vpn db
        restart: torrent vpn
        ",
    );
}

#[test]
fn an_updated_container_sharing_an_updated_stack_is_marked_too() {
    check(
        vec![
            node("vpn").updating(),
            node("torrent").network("container:vpn").updating(),
        ],
        "
        order: vpn torrent
        stop: torrent vpn
        recreate: torrent
        ",
    );
}

#[test]
fn a_cycle_skips_its_members_and_only_them() {
    check(
        vec![
            node("c").updating(),
            node("b").link("a"),
            node("a").label(DEPENDS_ON, "b").updating(),
        ],
        "
        order: c
        stop: c
        skipped: a (dependency cycle: a → b → a)
        skipped: b (dependency cycle: b → a → b)
        ",
    );
}

#[test]
fn a_container_depending_on_a_cycle_is_not_touched_through_it() {
    check(
        vec![
            node("a").link("b").updating(),
            node("b").link("a"),
            node("web").link("a"),
            node("solo").link("web").updating(),
        ],
        "
        order: solo
        stop: solo
        skipped: a (dependency cycle: a → b → a)
        skipped: b (dependency cycle: b → a → b)
        ",
    );
}

#[test]
fn a_cycle_the_update_does_not_reach_is_not_reported() {
    check(
        vec![
            node("a").link("b"),
            node("b").link("a"),
            node("c").updating(),
        ],
        "
        order: c
        stop: c
        ",
    );
}

#[test]
fn a_longer_cycle_is_named_in_full_for_each_member() {
    check(
        vec![
            node("x").updating(),
            node("a").link("b").link("x"),
            node("b").link("c"),
            node("c").link("a"),
        ],
        "
        order: x
        stop: x
        skipped: a (dependency cycle: a → b → c → a)
        skipped: b (dependency cycle: b → c → a → b)
        skipped: c (dependency cycle: c → a → b → c)
        ",
    );
}

#[test]
fn independent_containers_go_by_name_whatever_the_listing_order() {
    let expected = "
        order: alpha beta gamma
        stop: gamma beta alpha
        ";
    check(
        vec![
            node("gamma").updating(),
            node("alpha").updating(),
            node("beta").updating(),
        ],
        expected,
    );
    check(
        vec![
            node("beta").updating(),
            node("gamma").updating(),
            node("alpha").updating(),
        ],
        expected,
    );
}

#[test]
fn a_missing_dependency_is_noted_not_fatal() {
    check(
        vec![
            node("web").link("db").label(DEPENDS_ON, "ghost").updating(),
            node("torrent").network("container:vpn").updating(),
        ],
        "
        order: torrent web
        stop: web torrent
        note: torrent depends on vpn (network mode container:), which is not a container here; ignored
        note: web depends on db (link), which is not a container here; ignored
        note: web depends on ghost (depends-on label), which is not a container here; ignored
        ",
    );
}

#[test]
fn a_link_to_itself_is_ignored() {
    check(
        vec![
            node("solo")
                .link("solo")
                .label(DEPENDS_ON, "solo")
                .network("container:solo-id")
                .updating(),
        ],
        "
        order: solo
        stop: solo
        ",
    );
}

#[test]
fn other_network_modes_name_no_container() {
    for mode in [
        "host",
        "none",
        "bridge",
        "default",
        "my-net",
        "container:",
        "",
    ] {
        let node = Node::from_parts("x", "/x", &[], mode, BTreeMap::new());
        assert_eq!(node.network_container, None, "{mode}");
    }
}

#[test]
fn nothing_updating_touches_nothing() {
    check(vec![node("db"), node("app").link("db")], "");
}
