"""Network: the VPC the cluster and GPU nodes run in; created (private subnets, NAT, VPC endpoints) or existing.

Created: private subnets across AZs (nodes never get public IPs), public subnets only for
the NAT gateway(s), the S3 gateway endpoint and interface endpoints for every AWS API the
platform's pods and nodes call, so that data-plane traffic stays in the VPC. Existing: the
VPC and subnets named in config are looked up (their CIDR feeds the namespaces' egress).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from modelway.contracts.platform_config import NetworkConfig

# Interface endpoints: what pods (S3 via the gateway, STS, ECR, SageMaker, CloudWatch, Logs,
# MLflow), EKS Pod Identity (eks-auth), the cluster autoscaler (autoscaling, ec2) and the
# node termination handler (sqs) call.
INTERFACE_ENDPOINTS: tuple[str, ...] = (
    "sts", "ecr.api", "ecr.dkr", "sagemaker.api", "sagemaker.runtime", "monitoring", "logs",
    "eks", "eks-auth", "ec2", "autoscaling", "sqs",
)
# SageMaker managed MLflow's endpoint service is named aws.sagemaker.<region>.experiments.
MLFLOW_ENDPOINT = "experiments"


@dataclass
class NetworkArgs:
    """Inputs of :class:`Network`."""

    prefix: str
    """Name prefix of this environment, e.g. ``modelway-prod``."""
    config: NetworkConfig
    """Create a VPC, or use ``vpc_id`` + ``subnet_ids``."""
    region: pulumi.Input[str]
    """Region of the endpoint service names."""
    cluster_name: str
    """Subnets are tagged for this cluster's internal load balancers."""


def subnet_cidrs(cidr: str, zones: int) -> tuple[list[str], list[str]]:
    """(private, public) CIDRs: one large private block per AZ, small public blocks from the last eighth."""
    network = ipaddress.ip_network(cidr)
    eighths = list(network.subnets(prefixlen_diff=3))
    private = [str(block) for block in eighths[:zones]]
    public = [str(block) for block in list(eighths[-1].subnets(prefixlen_diff=3))[:zones]]
    return private, public


class Network(pulumi.ComponentResource):
    """VPC with private subnets across AZs, NAT, S3 gateway + interface endpoints; or an existing VPC.

    Example:
        >>> network = Network("modelway-prod", NetworkArgs(prefix="modelway-prod", config=cfg.network,
        ...     region="eu-west-1", cluster_name="modelway-prod"))                  # doctest: +SKIP
        >>> network.private_subnet_ids                                                # doctest: +SKIP
    """

    vpc_id: pulumi.Output[str]
    cidr_block: pulumi.Output[str]
    private_subnet_ids: pulumi.Output[list[str]]
    s3_cidrs: pulumi.Output[list[str]]
    """CIDRs of S3 in the region (the gateway endpoint's prefix list): what team pods reach S3 at."""
    jobs_security_group_id: pulumi.Output[str]
    """Security group of SageMaker training jobs in the private subnets: nothing in but the job's own
    instances, HTTPS out to the VPC's endpoints and to S3 only."""

    def __init__(self, name: str, args: NetworkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("modelway:network:Network", name, None, opts)
        self._name, self._args = name, args
        self._invoke = pulumi.InvokeOutputOptions(parent=self)
        if args.config.existing:
            self._use_existing()
        else:
            self._create_vpc()
            self._create_endpoints()
        prefix_list = aws.ec2.get_managed_prefix_list_output(
            name=pulumi.Output.concat("com.amazonaws.", args.region, ".s3"), opts=self._invoke)
        self.s3_cidrs = prefix_list.entries.apply(lambda entries: sorted(e.cidr for e in entries))
        self._create_jobs_group(prefix_list.id)
        self.register_outputs({"vpc_id": self.vpc_id, "private_subnet_ids": self.private_subnet_ids,
                               "jobs_security_group_id": self.jobs_security_group_id})

    def _create_jobs_group(self, s3_prefix_list_id: pulumi.Input[str]) -> None:
        # SageMaker jobs read and write the artifact store themselves (S3 through the gateway endpoint)
        # and call the AWS APIs through the interface endpoints; distributed jobs talk among themselves.
        group = aws.ec2.SecurityGroup(
            f"{self._name}-jobs-sg", vpc_id=self.vpc_id,
            description="SageMaker jobs: own instances in, HTTPS out to the VPC endpoints and S3",
            ingress=[{"protocol": "-1", "from_port": 0, "to_port": 0, "self": True,
                      "description": "between the instances of one job"}],
            egress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [self.cidr_block],
                     "description": "HTTPS to the VPC's interface endpoints"},
                    {"protocol": "tcp", "from_port": 443, "to_port": 443, "prefix_list_ids": [s3_prefix_list_id],
                     "description": "HTTPS to S3 (gateway endpoint)"},
                    {"protocol": "-1", "from_port": 0, "to_port": 0, "self": True,
                     "description": "between the instances of one job"}],
            tags={"Name": f"{self._args.prefix}-jobs"}, opts=pulumi.ResourceOptions(parent=self))
        self.jobs_security_group_id = group.id

    def _use_existing(self) -> None:
        cfg = self._args.config
        vpc = aws.ec2.get_vpc_output(id=cfg.vpc_id, opts=self._invoke)
        self.vpc_id = vpc.id
        self.cidr_block = vpc.cidr_block
        self.private_subnet_ids = pulumi.Output.from_input(list(cfg.subnet_ids))
        self.private_route_table_ids: list[pulumi.Output[str]] = []

    def _create_vpc(self) -> None:
        args, cfg = self._args, self._args.config
        child = pulumi.ResourceOptions(parent=self)
        zones = aws.get_availability_zones_output(state="available", opts=self._invoke).names
        self.vpc = aws.ec2.Vpc(f"{self._name}-vpc", cidr_block=cfg.cidr_block, enable_dns_hostnames=True,
                               enable_dns_support=True, tags={"Name": f"{args.prefix}-vpc"}, opts=child)
        self.vpc_id, self.cidr_block = self.vpc.id, self.vpc.cidr_block
        private_cidrs, public_cidrs = subnet_cidrs(cfg.cidr_block, cfg.availability_zones)
        cluster_tag = {f"kubernetes.io/cluster/{args.cluster_name}": "shared"}
        private = [
            aws.ec2.Subnet(f"{self._name}-private-{i}", vpc_id=self.vpc.id, cidr_block=cidr,
                           availability_zone=zones.apply(lambda names, i=i: names[i % len(names)]),
                           map_public_ip_on_launch=False,
                           tags={"Name": f"{args.prefix}-private-{i}", "kubernetes.io/role/internal-elb": "1",
                                 **cluster_tag}, opts=child)
            for i, cidr in enumerate(private_cidrs)
        ]
        self.private_subnet_ids = pulumi.Output.all(*[s.id for s in private])
        nat_ids = self._create_nat(zones, public_cidrs) if cfg.nat_gateways != "none" else []
        # One private route table per NAT gateway (per-az keeps a zone's traffic in its zone).
        tables = [aws.ec2.RouteTable(
            f"{self._name}-private-rt-{i}", vpc_id=self.vpc.id,
            routes=[{"cidr_block": "0.0.0.0/0", "nat_gateway_id": nat}] if nat else [],
            tags={"Name": f"{args.prefix}-private-{i}"}, opts=child)
            for i, nat in enumerate(nat_ids or [None])]
        for i, subnet in enumerate(private):
            aws.ec2.RouteTableAssociation(f"{self._name}-private-{i}-rt", subnet_id=subnet.id,
                                          route_table_id=tables[i % len(tables)].id, opts=child)
        self.private_route_table_ids = [t.id for t in tables]

    def _create_nat(self, zones: pulumi.Output[list[str]], public_cidrs: list[str]) -> list[pulumi.Output[str]]:
        args, cfg = self._args, self._args.config
        child = pulumi.ResourceOptions(parent=self)
        gateway = aws.ec2.InternetGateway(f"{self._name}-igw", vpc_id=self.vpc.id,
                                          tags={"Name": f"{args.prefix}-igw"}, opts=child)
        table = aws.ec2.RouteTable(f"{self._name}-public-rt", vpc_id=self.vpc.id,
                                   routes=[{"cidr_block": "0.0.0.0/0", "gateway_id": gateway.id}],
                                   tags={"Name": f"{args.prefix}-public"}, opts=child)
        count = 1 if cfg.nat_gateways == "single" else cfg.availability_zones
        nat_ids = []
        for i, cidr in enumerate(public_cidrs):
            # Public subnets hold only NAT gateways: nothing launched here gets a public IP by default.
            subnet = aws.ec2.Subnet(f"{self._name}-public-{i}", vpc_id=self.vpc.id, cidr_block=cidr,
                                    availability_zone=zones.apply(lambda names, i=i: names[i % len(names)]),
                                    map_public_ip_on_launch=False,
                                    tags={"Name": f"{args.prefix}-public-{i}", "kubernetes.io/role/elb": "1"},
                                    opts=child)
            aws.ec2.RouteTableAssociation(f"{self._name}-public-{i}-rt", subnet_id=subnet.id,
                                          route_table_id=table.id, opts=child)
            if i < count:
                eip = aws.ec2.Eip(f"{self._name}-nat-{i}-ip", domain="vpc",
                                  tags={"Name": f"{args.prefix}-nat-{i}"}, opts=child)
                nat = aws.ec2.NatGateway(f"{self._name}-nat-{i}", allocation_id=eip.id, subnet_id=subnet.id,
                                         tags={"Name": f"{args.prefix}-nat-{i}"},
                                         opts=pulumi.ResourceOptions(parent=self, depends_on=[gateway]))
                nat_ids.append(nat.id)
        return nat_ids

    def _create_endpoints(self) -> None:
        args = self._args
        if not args.config.vpc_endpoints:
            return
        child = pulumi.ResourceOptions(parent=self)
        aws.ec2.VpcEndpoint(f"{self._name}-s3-endpoint", vpc_id=self.vpc.id, vpc_endpoint_type="Gateway",
                            service_name=pulumi.Output.concat("com.amazonaws.", args.region, ".s3"),
                            route_table_ids=self.private_route_table_ids, opts=child)
        group = aws.ec2.SecurityGroup(
            f"{self._name}-endpoints-sg", vpc_id=self.vpc.id,
            description="HTTPS from the VPC to the AWS API interface endpoints",
            ingress=[{"protocol": "tcp", "from_port": 443, "to_port": 443, "cidr_blocks": [args.config.cidr_block],
                      "description": "HTTPS from the VPC"}],
            tags={"Name": f"{args.prefix}-endpoints"}, opts=child)
        services = [pulumi.Output.concat("com.amazonaws.", args.region, f".{s}") for s in INTERFACE_ENDPOINTS]
        services.append(pulumi.Output.concat("aws.sagemaker.", args.region, f".{MLFLOW_ENDPOINT}"))
        for service, label in zip(services, [*INTERFACE_ENDPOINTS, "mlflow"]):
            aws.ec2.VpcEndpoint(f"{self._name}-{label.replace('.', '-')}-endpoint", vpc_id=self.vpc.id,
                                vpc_endpoint_type="Interface", service_name=service, private_dns_enabled=True,
                                subnet_ids=self.private_subnet_ids, security_group_ids=[group.id], opts=child)
