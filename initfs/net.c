/*
 * The network: lo up, and the first NIC configured as the host says, without DHCP.
 */
#include "init.h"

/* ---- network ------------------------------------------------------------ */

struct in_addr guest_ip, gateway_ip;

static void set_addr(struct sockaddr *sa, in_addr_t addr) {
  struct sockaddr_in *in = (struct sockaddr_in *)sa;
  memset(in, 0, sizeof *in);
  in->sin_family = AF_INET;
  in->sin_addr.s_addr = addr;
}

static void link_up(int sock, const char *name) {
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", name);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags & IFF_UP)) return;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(sock, SIOCSIFFLAGS, &ifr) < 0) log_line("link %s up: %s", name, strerror(errno));
}

/* At boot, before the snapshot: lo and the NIC up, so that no run's guest
 * spends its time there (the NIC's address comes with the run's request). */
void links_up(void) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return;
  link_up(sock, "lo");
  DIR *d = opendir("/sys/class/net");
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.' && strcmp(e->d_name, "lo") != 0) link_up(sock, e->d_name);
  if (d) closedir(d);
  close(sock);
}

/* One datagram to the gateway's discard port: the ARP request it needs
 * tells the network backend our MAC, so that a connection to a published
 * port is forwarded at once, before the command has sent anything itself
 * (passt learns the guest's address from its first frame). Each run's that
 * publishes ports: its backend is new. A run without them sends nothing: its
 * command's first packet makes it known (the hello took 15-25 ms of each run
 * under TCG here). */
static void hello_gateway(int sock, const char *gw) {
  struct sockaddr_in discard = {.sin_family = AF_INET, .sin_port = htons(9), .sin_addr.s_addr = inet_addr(gw)};
  if (sendto(sock, "", 0, 0, (struct sockaddr *)&discard, sizeof discard) < 0) log_line("hello to %s: %s", gw, strerror(errno));
}

/* the NIC's set-up the boot made (the run's spec, in its words), before the snapshot */
static char boot_net[96];

static void setup_network(const char *spec, int at_boot, int announce);

/* At boot, before the snapshot: the NIC's address, netmask, MTU and default route from the
 * kernel's testin.net=ADDRESS/PREFIX,GATEWAY[,MTU], which is every run's of this VM (its
 * command line is part of the snapshot's name). No packet goes out: that is the run's. */
void configure_network_at_boot(const char *words) {
  char spec[96];
  snprintf(spec, sizeof spec, "%s", words);
  for (char *c = spec; *c; c++)
    if (*c == ',') *c = ' ';
  setup_network(spec, 1, 0);
  snprintf(boot_net, sizeof boot_net, "%s", spec);
}

/* lo always comes up; the first other interface gets the address and the
 * default route the host chose (QEMU user networking: no DHCP wait). */
void configure_network(const char *spec, int announce) {
  setup_network(spec, 0, announce);
}

static void setup_network(const char *spec, int at_boot, int announce) {
  char addr[64] = "", gw[64] = "";
  unsigned prefix = 24, mtu = 0;
  int has_nic = spec && sscanf(spec, "%63[^/]/%u %63s %u", addr, &prefix, gw, &mtu) >= 2;
  if (has_nic) {
    guest_ip.s_addr = inet_addr(addr);
    if (gw[0]) gateway_ip.s_addr = inet_addr(gw);
  }
  /* the boot set lo and the NIC up as this run asks: only the run's own part is left */
  if (has_nic && !at_boot && boot_net[0] && strcmp(spec, boot_net) == 0) {
    int sock = announce && gw[0] ? socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0) : -1;
    if (sock >= 0) {
      hello_gateway(sock, gw);
      close(sock);
    }
    return;
  }
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return;
  link_up(sock, "lo");
  if (!has_nic) {
    close(sock);
    return;
  }
  char nic[IFNAMSIZ] = "";
  DIR *d = opendir("/sys/class/net");
  for (struct dirent *e; d && (e = readdir(d));)
    if (e->d_name[0] != '.' && strcmp(e->d_name, "lo") != 0 && !nic[0]) snprintf(nic, sizeof nic, "%.15s", e->d_name);
  if (d) closedir(d);
  if (!nic[0]) {
    log_line("no network interface to configure");
    close(sock);
    return;
  }
  struct ifreq ifr = {0};
  snprintf(ifr.ifr_name, IFNAMSIZ, "%s", nic);
  set_addr(&ifr.ifr_addr, inet_addr(addr));
  if (ioctl(sock, SIOCSIFADDR, &ifr) < 0) log_line("address of %s: %s", nic, strerror(errno));
  set_addr(&ifr.ifr_netmask, prefix ? htonl(~0u << (32 - prefix)) : 0);
  if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0) log_line("netmask of %s: %s", nic, strerror(errno));
  ifr.ifr_mtu = (int)mtu;
  if (mtu && ioctl(sock, SIOCSIFMTU, &ifr) < 0) log_line("mtu of %s: %s", nic, strerror(errno));
  link_up(sock, nic);
  if (gw[0]) {
    struct rtentry rt = {0};
    set_addr(&rt.rt_dst, INADDR_ANY);
    set_addr(&rt.rt_genmask, INADDR_ANY);
    set_addr(&rt.rt_gateway, inet_addr(gw));
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    rt.rt_dev = nic;
    if (ioctl(sock, SIOCADDRT, &rt) < 0) log_line("default route via %s: %s", gw, strerror(errno));
    if (!at_boot && announce) hello_gateway(sock, gw);
  }
  close(sock);
}
