# The lab's node: the Molecule node image (tools/node-image.sh) made to look like a Lambda instance from the outside:
# an SSH server, and an ubuntu user that sudo lets in without a password (Lambda's images log in as ubuntu).
# The lab writes the launch's SSH key into /home/ubuntu/.ssh/authorized_keys when it starts a node.
FROM sophia-lambda-k3s-node:bookworm
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssh-server >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && touch -d @0 /var/lib/apt/lists \
 && useradd --create-home --shell /bin/bash ubuntu \
 && echo 'ubuntu ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/90-ubuntu \
 && chmod 0440 /etc/sudoers.d/90-ubuntu \
 && systemctl enable ssh \
 && rm -f /etc/ssh/ssh_host_*
# Each node makes its own host keys at its first start, as a cloud instance does.
RUN printf '[Unit]\nDescription=SSH host keys of this node\nBefore=ssh.service\nConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/ssh-keygen -A\n\n[Install]\nWantedBy=multi-user.target\n' \
      > /etc/systemd/system/ssh-host-keys.service \
 && systemctl enable ssh-host-keys.service
